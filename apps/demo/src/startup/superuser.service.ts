import { LockTimeoutError, StartupLock } from '@lf/nest-preload';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes, randomUUID, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import type { Repository } from 'typeorm';
import { DEMO_CONFIG } from '../demo.tokens';
import type { DemoConfig } from '../config';
import { isUniqueViolation } from '../database/data-source.options';
import { User } from '../database/user.entity';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** What `setup()` did, like Langflow's `SetupSuperuserResult`. */
export type SuperuserSetupResult =
  /** Auto-login off: the configured superuser was created. */
  | 'initialized'
  /** Auto-login on: the auto-login superuser already existed. */
  | 'already_satisfied'
  /** The lock could not be taken in time, but the superuser exists. */
  | 'lock_timed_out_superuser_present'
  /** Auto-login on: the auto-login superuser was created by this process. */
  | 'created'
  /** Auto-login off: the configured superuser already existed; nothing changed. */
  | 'unchanged';

/** Legacy default password that Langflow refuses, and so do we. */
const LEGACY_DEFAULT_PASSWORD = 'langflow';

@Injectable()
export class SuperuserService {
  private readonly logger = new Logger('Superuser');

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly lock: StartupLock,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  /**
   * Makes sure the superuser exists. Runs under the startup lock (waiting the module's
   * `lockTimeoutMs` unless told otherwise); a unique constraint on the username makes a duplicate
   * impossible even if the lock is lost.
   */
  async setup(lockTimeoutMs?: number): Promise<SuperuserSetupResult> {
    const username = this.config.superuser;
    try {
      return await this.lock.withLock('superuser', () => (this.config.autoLogin ? this.ensureAutoLogin(username) : this.ensureConfigured(username)), {
        scope: 'database',
        ...(lockTimeoutMs === undefined ? {} : { timeoutMs: lockTimeoutMs }),
      });
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error;
      // A busy holder and a stale lock look the same from here: the database decides.
      const existing = await this.users.findOneBy({ username });
      if (existing?.isSuperuser) return 'lock_timed_out_superuser_present';
      throw new Error(
        `Timed out after ${error.timeoutMs} ms waiting for the superuser lock, and no superuser "${username}" exists. ` +
          `Another process may be stuck holding it: retry the start, or create the superuser yourself (AUTO_LOGIN=false with SUPERUSER and SUPERUSER_PASSWORD).`,
        { cause: error },
      );
    }
  }

  private async ensureAutoLogin(username: string): Promise<SuperuserSetupResult> {
    const existing = await this.users.findOneBy({ username });
    if (existing) return this.confirmSuperuser(existing, 'already_satisfied');
    // A fresh random password nobody knows: auto-login never needs it, and it is never logged.
    const created = await this.insert(username, randomBytes(24).toString('base64url'));
    if (created) this.logger.log(`created the auto-login superuser "${username}"`);
    return created ? 'created' : 'already_satisfied';
  }

  private async ensureConfigured(username: string): Promise<SuperuserSetupResult> {
    const password = this.config.superuserPassword;
    if (!password) throw new Error('AUTO_LOGIN=false needs SUPERUSER_PASSWORD (and optionally SUPERUSER) to create the superuser.');
    if (password === LEGACY_DEFAULT_PASSWORD) throw new Error(`SUPERUSER_PASSWORD must not be the legacy default "${LEGACY_DEFAULT_PASSWORD}": choose another.`);
    const existing = await this.users.findOneBy({ username });
    if (existing) return this.confirmSuperuser(existing, 'unchanged');
    return (await this.insert(username, password)) ? 'initialized' : 'unchanged';
  }

  private confirmSuperuser(user: User, outcome: SuperuserSetupResult): SuperuserSetupResult {
    if (!user.isSuperuser) {
      throw new Error(`User "${user.username}" exists but is not a superuser: promote it, or set SUPERUSER to another name.`);
    }
    return outcome;
  }

  /** Inserts the superuser; false when another process won the race (unique violation). */
  private async insert(username: string, password: string): Promise<boolean> {
    const salt = randomBytes(16);
    const hash = await scryptAsync(password, salt, 32);
    try {
      await this.users.insert({ id: randomUUID(), username, passwordHash: `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`, isSuperuser: true });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
