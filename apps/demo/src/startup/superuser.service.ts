import { LockTimeoutError, StartupLock } from '@lf/nest-preload';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { IsNull, type Repository } from 'typeorm';
import { DEMO_CONFIG } from '../demo.tokens';
import type { DemoConfig } from '../config';
import { isUniqueViolation } from '../database/data-source.options';
import { Flow } from '../database/flow.entity';
import { User } from '../database/user.entity';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** What `setup()` did: Langflow's `SetupSuperuserResult`, with the same names and meanings. */
export type SuperuserSetupResult =
  /** Auto-login on: this process created the auto-login superuser. */
  | 'auto_login_initialized'
  /** Auto-login on: the auto-login superuser already existed. */
  | 'auto_login_already_satisfied'
  /** The lock could not be taken in time, but the superuser exists (the lock may be stale). */
  | 'auto_login_lock_timeout_superuser_present'
  /** Auto-login off: this process created the configured superuser. */
  | 'superuser_created'
  /** Auto-login off: the configured superuser already existed; nothing changed (its password included). */
  | 'superuser_unchanged';

/** True when `password` is the one `scrypt$salt$hash` was made from. */
async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'hex');
  const actual = await scryptAsync(password, Buffer.from(salt, 'hex'), expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Legacy default password that Langflow refuses, and so do we. */
const LEGACY_DEFAULT_PASSWORD = 'langflow';

@Injectable()
export class SuperuserService {
  private readonly logger = new Logger('Superuser');

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    private readonly lock: StartupLock,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  /**
   * Makes sure the superuser exists. Runs under the startup lock (waiting the module's
   * `lockTimeoutMs` unless told otherwise); a unique constraint on the username makes a duplicate
   * impossible even if the lock is lost. Whatever happens, the configured password is dropped from
   * the config afterwards (Langflow scrubs its credentials too).
   */
  async setup(lockTimeoutMs?: number): Promise<SuperuserSetupResult> {
    try {
      return await this.setupLocked(lockTimeoutMs);
    } finally {
      this.dropCredentials();
    }
  }

  /**
   * Drops the configured password from the config and from this process's environment. Called
   * after setup, and by the demo's `serve` in a worker that skipped the step because the preloader
   * did it. (Only the primary, which never loads the app, keeps it: it passes its environment to
   * the processes it forks.)
   */
  dropCredentials(): void {
    this.config.superuserPassword = null;
    delete process.env.SUPERUSER_PASSWORD;
  }

  private async setupLocked(lockTimeoutMs: number | undefined): Promise<SuperuserSetupResult> {
    const username = this.config.superuser;
    try {
      return await this.lock.withLock(
        'superuser',
        () => (this.config.autoLogin ? this.ensureAutoLogin(username) : this.ensureConfigured(username)),
        {
          scope: 'database',
          ...(lockTimeoutMs === undefined ? {} : { timeoutMs: lockTimeoutMs }),
        },
      );
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error;
      // A busy holder and a stale lock look the same from here: the database decides.
      const existing = await this.users.findOneBy({ username });
      if (existing?.isSuperuser) {
        this.logger.warn(
          `timed out after ${error.timeoutMs} ms waiting for the superuser lock (another process may hold it, or the lock may be stale); ` +
            `the superuser "${username}" exists, so start-up goes on`,
        );
        return 'auto_login_lock_timeout_superuser_present';
      }
      throw new Error(
        `Timed out after ${error.timeoutMs} ms waiting for the superuser lock, and no superuser "${username}" exists. ` +
          `Another process may be stuck holding it: retry the start, or create the superuser yourself (AUTO_LOGIN=false with SUPERUSER and SUPERUSER_PASSWORD).`,
        { cause: error },
      );
    }
  }

  private async ensureAutoLogin(username: string): Promise<SuperuserSetupResult> {
    const existing = await this.users.findOneBy({ username });
    if (existing) return this.confirmSuperuser(existing, 'auto_login_already_satisfied');
    // A fresh random password nobody knows: auto-login never needs it, and it is never logged.
    const created = await this.insert(username, randomBytes(24).toString('base64url'), 'auto_login');
    if (created) this.logger.log(`created the auto-login superuser "${username}"`);
    return created ? 'auto_login_initialized' : 'auto_login_already_satisfied';
  }

  private async ensureConfigured(username: string): Promise<SuperuserSetupResult> {
    const password = this.config.superuserPassword;
    if (password === LEGACY_DEFAULT_PASSWORD)
      throw new Error(`SUPERUSER_PASSWORD must not be the legacy default "${LEGACY_DEFAULT_PASSWORD}": choose another.`);
    const missingPassword = () =>
      new Error('AUTO_LOGIN=false needs SUPERUSER_PASSWORD (and optionally SUPERUSER) to create the superuser.');
    if (!password) {
      // Checked before anything is removed: without a password the auto-login user could not be replaced.
      const configured = await this.users.findOneBy({ username });
      if (!configured || (configured.origin === 'auto_login' && !configured.lastLoginAt)) throw missingPassword();
    }
    await this.removeUnusedAutoLoginUsers();
    const existing = await this.users.findOneBy({ username });
    if (existing) {
      // An existing user keeps its password: an operator who changed it must not see it reset at the next start.
      if (password && existing.origin !== 'configured' && !(await verifyPassword(password, existing.passwordHash))) {
        this.logger.warn(
          `SUPERUSER_PASSWORD was not applied: the superuser "${username}" exists ` +
            `(${existing.origin === 'auto_login' ? 'made by auto-login and kept' : 'made before this version, or by hand'}) with another password. ` +
            'Sign in with its password, or delete the user to have it created from SUPERUSER and SUPERUSER_PASSWORD.',
        );
      }
      return this.confirmSuperuser(existing, 'superuser_unchanged');
    }
    if (!password) throw missingPassword();
    if (!(await this.insert(username, password, 'configured'))) return 'superuser_unchanged';
    this.logger.log(`created the superuser "${username}" from SUPERUSER and SUPERUSER_PASSWORD`);
    return 'superuser_created';
  }

  /**
   * Auto-login off: removes each superuser that auto-login created and that nobody ever used (never
   * signed in, owns no flow a user made); its starter projects and seeded flows go with it and are
   * seeded again for the configured superuser. One that was used is kept, and the log says why.
   */
  private async removeUnusedAutoLoginUsers(): Promise<void> {
    for (const user of await this.users.findBy({ origin: 'auto_login', isSuperuser: true })) {
      if (user.lastLoginAt) {
        this.logger.warn(
          `kept the auto-login superuser "${user.username}" (AUTO_LOGIN=false): it signed in (last at ${user.lastLoginAt.toISOString()}); delete it yourself if nobody needs it`,
        );
        continue;
      }
      const made = await this.flows.countBy({ userId: user.id, seedHash: IsNull() });
      if (made) {
        this.logger.warn(
          `kept the auto-login superuser "${user.username}" (AUTO_LOGIN=false): it owns ${made} flow(s) a user made; move them and delete it yourself`,
        );
        continue;
      }
      // Conditional, in one statement: a sign-in or a flow saved (by a host still on auto-login)
      // between the checks above and the delete keeps the user, and the flow.
      const { affected } = await this.users
        .createQueryBuilder()
        .delete()
        .where('id = :id AND last_login_at IS NULL AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.user_id = :id AND f.seed_hash IS NULL)', {
          id: user.id,
        })
        .execute();
      if (affected) this.logger.log(`removed the auto-login superuser "${user.username}" (AUTO_LOGIN=false): it never signed in`);
    }
  }

  private confirmSuperuser(user: User, outcome: SuperuserSetupResult): SuperuserSetupResult {
    if (!user.isSuperuser) {
      throw new Error(`User "${user.username}" exists but is not a superuser: promote it, or set SUPERUSER to another name.`);
    }
    return outcome;
  }

  /** Inserts the superuser; false when another process won the race (unique violation). */
  private async insert(username: string, password: string, origin: 'auto_login' | 'configured'): Promise<boolean> {
    const salt = randomBytes(16);
    const hash = await scryptAsync(password, salt, 32);
    try {
      await this.users.insert({
        id: randomUUID(),
        username,
        passwordHash: `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`,
        isSuperuser: true,
        origin,
        lastLoginAt: null,
      });
      return true;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // The lock should have made this impossible; the unique index kept it harmless. Said aloud,
      // so that a lock that does not exclude (e.g. a file lock across hosts) is seen, not hidden.
      this.logger.warn(
        `another process created the superuser "${username}" at the same time (the unique index kept one); the startup lock did not exclude it`,
      );
      return false;
    }
  }
}
