import { FileLock, PreloadModule } from '@lf/nest-preload';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import type { DataSource, Repository } from 'typeorm';
import { readDemoConfig } from '../config';
import { dataSourceOptions } from '../database/data-source.options';
import { Flow } from '../database/flow.entity';
import { User } from '../database/user.entity';
import { DEMO_CONFIG } from '../demo.tokens';
import { SuperuserService } from './superuser.service';

/** A SuperuserService on a fresh SQLite file (migrated), with its own lock dir. */
async function setup(env: Record<string, string> = {}) {
  const dir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'superuser-spec-'));
  const config = readDemoConfig({ DATA_DIR: dir, ...env }, dir);
  const lockDir = join(dir, 'locks');
  const ref = await Test.createTestingModule({
    imports: [
      PreloadModule.forRoot({ lockDir, isGlobal: true }),
      TypeOrmModule.forRoot(dataSourceOptions(config, 'standalone')),
      TypeOrmModule.forFeature([User, Flow]),
    ],
    providers: [SuperuserService, { provide: DEMO_CONFIG, useValue: config }],
  }).compile();
  const dataSource = ref.get<DataSource>(getDataSourceToken());
  await dataSource.runMigrations();
  const users = dataSource.getRepository(User);
  return {
    service: ref.get(SuperuserService),
    config: ref.get(DEMO_CONFIG),
    users,
    flows: dataSource.getRepository(Flow),
    lock: new FileLock(lockDir),
    close: () => ref.close(),
    dir,
  };
}

/** The same database (dir) started again with another environment, as a restart would. */
async function restart(dir: string, env: Record<string, string>) {
  return setup({ ...env, DATA_DIR: dir });
}

async function verifies(users: Repository<User>, username: string, password: string): Promise<boolean> {
  const user = await users.findOneByOrFail({ username });
  const [, salt, hash] = user.passwordHash.split('$');
  return (await scryptAsync(password, Buffer.from(salt, 'hex'), 32)).toString('hex') === hash;
}
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** Holds the superuser lock from "another process" until released. */
function holdLock(lock: FileLock) {
  let release!: () => void;
  let acquired!: () => void;
  // Ready once the lock is really held (an event, not a delay).
  const ready = new Promise<void>((r) => (acquired = r));
  const held = lock.withLock(
    'superuser',
    () =>
      new Promise<void>((r) => {
        release = r;
        acquired();
      }),
  );
  return {
    release: async () => {
      release();
      await held;
    },
    ready,
  };
}

describe('SuperuserService.setup', () => {
  it('auto-login: creates the superuser once, then is already satisfied; the password hash is never the plain text', async () => {
    const t = await setup();
    await expect(t.service.setup()).resolves.toBe('auto_login_initialized');
    await expect(t.service.setup()).resolves.toBe('auto_login_already_satisfied');
    const rows = await t.users.find();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      username: 'langflow',
      isSuperuser: true,
      origin: 'auto_login',
      lastLoginAt: null,
      passwordHash: expect.stringMatching(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/),
    });
    await t.close();
  });

  it('auto-login: 8 concurrent setups create exactly one user', async () => {
    const t = await setup();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => t.service.setup()));
    expect(outcomes.filter((o) => o === 'auto_login_initialized')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'auto_login_already_satisfied')).toHaveLength(7);
    expect(await t.users.count()).toBe(1);
    await t.close();
  });

  it('lock timed out but the superuser exists: says so, and warns that the lock may be stale', async () => {
    const t = await setup();
    await t.service.setup();
    const holder = holdLock(t.lock);
    await holder.ready;
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await expect(t.service.setup(200)).resolves.toBe('auto_login_lock_timeout_superuser_present');
    expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(
      'timed out after 200 ms waiting for the superuser lock (another process may hold it, or the lock may be stale); the superuser "langflow" exists, so start-up goes on',
    );
    warn.mockRestore();
    await holder.release();
    await t.close();
  });

  it('lock timed out and no superuser: a loud error that tells the operator what to do', async () => {
    const t = await setup();
    const holder = holdLock(t.lock);
    await holder.ready;
    await expect(t.service.setup(200)).rejects.toThrow(
      'Timed out after 200 ms waiting for the superuser lock, and no superuser "langflow" exists. Another process may be stuck holding it: retry the start, or create the superuser yourself',
    );
    await holder.release();
    expect(await t.users.count()).toBe(0);
    await t.close();
  });

  it('a unique constraint makes a duplicate impossible even without the lock', async () => {
    const t = await setup();
    await t.service.setup();
    await expect(t.users.insert({ id: 'x', username: 'langflow', passwordHash: 'h', isSuperuser: true })).rejects.toThrow(/UNIQUE/);
    await t.close();
  });

  it('refuses to treat an existing non-superuser as the auto-login superuser', async () => {
    const t = await setup();
    await t.users.insert({ id: 'u1', username: 'langflow', passwordHash: 'h', isSuperuser: false });
    await expect(t.service.setup()).rejects.toThrow('User "langflow" exists but is not a superuser');
    await t.close();
  });

  it('a lost insert race (unique violation) counts as already satisfied, not as a failure', async () => {
    const t = await setup();
    await t.service.setup();
    // Another process inserted between this one's check and its insert: the check saw nobody.
    const find = jest.spyOn(t.users, 'findOneBy').mockResolvedValueOnce(null);
    await expect(t.service.setup()).resolves.toBe('auto_login_already_satisfied');
    expect(find).toHaveBeenCalled();
    expect(await t.users.count()).toBe(1);
    await t.close();
  });

  it('auto-login off: creates the configured superuser, then leaves it unchanged; an operator-changed password survives restarts', async () => {
    const env = { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: 's3cret-Passw0rd' };
    const t = await setup(env);
    await expect(t.service.setup()).resolves.toBe('superuser_created');
    expect((await t.users.find()).map((u) => [u.username, u.origin])).toEqual([['admin', 'configured']]);
    await expect(verifies(t.users, 'admin', 's3cret-Passw0rd')).resolves.toBe(true);
    // The operator changes the password in the app; the next start must not reset it.
    const changed = (await t.users.findOneByOrFail({ username: 'admin' })).passwordHash.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    await t.users.update({ username: 'admin' }, { passwordHash: changed });
    await t.close();
    const again = await restart(t.dir, env);
    await expect(again.service.setup()).resolves.toBe('superuser_unchanged');
    expect((await again.users.findOneByOrFail({ username: 'admin' })).passwordHash).toBe(changed);
    await again.close();
  });

  it('the password is dropped from the config and the environment after setup, even when setup fails', async () => {
    process.env.SUPERUSER_PASSWORD = 's3cret-Passw0rd';
    const t = await setup({ AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: 's3cret-Passw0rd' });
    expect(t.config.superuserPassword).toBe('s3cret-Passw0rd');
    await t.service.setup();
    expect(t.config.superuserPassword).toBeNull();
    expect(process.env.SUPERUSER_PASSWORD).toBeUndefined();
    await t.close();
    const failing = await setup({ AUTO_LOGIN: 'false', SUPERUSER_PASSWORD: 'langflow' });
    await expect(failing.service.setup()).rejects.toThrow('legacy default');
    expect(failing.config.superuserPassword).toBeNull();
    await failing.close();
  });

  describe('auto-login turned off after an auto-login run', () => {
    const configured = { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: 's3cret-Passw0rd' };

    it('removes the auto-login superuser that never signed in (and its seeded flows), and creates the configured one', async () => {
      const t = await setup();
      await t.service.setup();
      const auto = await t.users.findOneByOrFail({ username: 'langflow' });
      await t.flows.insert({ id: 's1', userId: auto.id, name: 'Starter', description: null, data: '{}', isStarter: true, seedHash: 'h' });
      await t.close();
      const off = await restart(t.dir, configured);
      await expect(off.service.setup()).resolves.toBe('superuser_created');
      expect((await off.users.find()).map((u) => u.username)).toEqual(['admin']);
      await expect(verifies(off.users, 'admin', 's3cret-Passw0rd')).resolves.toBe(true);
      expect(await off.flows.count()).toBe(0);
      await off.close();
    });

    it('with SUPERUSER unset, the unused auto-login "langflow" is replaced by one with the configured password', async () => {
      const t = await setup();
      await t.service.setup();
      await t.close();
      const off = await restart(t.dir, { AUTO_LOGIN: 'false', SUPERUSER_PASSWORD: 's3cret-Passw0rd' });
      await expect(off.service.setup()).resolves.toBe('superuser_created');
      expect((await off.users.find()).map((u) => [u.username, u.origin])).toEqual([['langflow', 'configured']]);
      await expect(verifies(off.users, 'langflow', 's3cret-Passw0rd')).resolves.toBe(true);
      await off.close();
    });

    it('keeps an auto-login superuser that signed in, and says so', async () => {
      const t = await setup();
      await t.service.setup();
      await t.users.update({ username: 'langflow' }, { lastLoginAt: new Date('2026-12-01T10:00:00Z') });
      await t.close();
      const off = await restart(t.dir, configured);
      const warn = jest.spyOn(Logger.prototype, 'warn');
      await expect(off.service.setup()).resolves.toBe('superuser_created');
      expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(
        'kept the auto-login superuser "langflow" (AUTO_LOGIN=false): it signed in (last at 2026-12-01T10:00:00.000Z); delete it yourself if nobody needs it',
      );
      warn.mockRestore();
      expect((await off.users.find({ order: { username: 'ASC' } })).map((u) => u.username)).toEqual(['admin', 'langflow']);
      await off.close();
    });

    it('keeps an auto-login superuser that owns a flow a user made', async () => {
      const t = await setup();
      await t.service.setup();
      const auto = await t.users.findOneByOrFail({ username: 'langflow' });
      await t.flows.insert({ id: 'u1', userId: auto.id, name: 'Mine', description: null, data: '{}', isStarter: false, seedHash: null });
      await t.close();
      const off = await restart(t.dir, configured);
      await off.service.setup();
      expect((await off.users.find({ order: { username: 'ASC' } })).map((u) => u.username)).toEqual(['admin', 'langflow']);
      expect(await off.flows.countBy({ id: 'u1' })).toBe(1);
      await off.close();
    });

    it('without SUPERUSER_PASSWORD: fails before removing anything, so the cluster is never left without a superuser', async () => {
      const t = await setup();
      await t.service.setup();
      await t.close();
      const off = await restart(t.dir, { AUTO_LOGIN: 'false' });
      await expect(off.service.setup()).rejects.toThrow('AUTO_LOGIN=false needs SUPERUSER_PASSWORD');
      expect((await off.users.find()).map((u) => u.username)).toEqual(['langflow']);
      await off.close();
    });

    it('a flow a user saves between the check and the delete (a host still on auto-login) keeps the user and the flow', async () => {
      const t = await setup();
      await t.service.setup();
      const auto = await t.users.findOneByOrFail({ username: 'langflow' });
      await t.flows.insert({
        id: 'late',
        userId: auto.id,
        name: 'Saved just now',
        description: null,
        data: '{}',
        isStarter: false,
        seedHash: null,
      });
      await t.close();
      const off = await restart(t.dir, configured);
      // The check saw no user-made flow, as it would have a moment before the save.
      jest.spyOn(off.flows, 'countBy').mockResolvedValueOnce(0);
      await off.service.setup();
      expect((await off.users.find({ order: { username: 'ASC' } })).map((u) => u.username)).toEqual(['admin', 'langflow']);
      expect(await off.flows.countBy({ id: 'late' })).toBe(1);
      await off.close();
    });

    it('a kept auto-login user named like SUPERUSER: the configured password is not applied, and a warning says so and what to do', async () => {
      const t = await setup();
      await t.service.setup();
      await t.users.update({ username: 'langflow' }, { lastLoginAt: new Date() });
      await t.close();
      const off = await restart(t.dir, { AUTO_LOGIN: 'false', SUPERUSER_PASSWORD: 's3cret-Passw0rd' });
      const warn = jest.spyOn(Logger.prototype, 'warn');
      await expect(off.service.setup()).resolves.toBe('superuser_unchanged');
      expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(
        'SUPERUSER_PASSWORD was not applied: the superuser "langflow" exists (made by auto-login and kept) with another password. Sign in with its password, or delete the user to have it created from SUPERUSER and SUPERUSER_PASSWORD.',
      );
      warn.mockRestore();
      await off.close();
    });

    it('never removes a configured superuser, signed in or not', async () => {
      const t = await setup({ AUTO_LOGIN: 'false', SUPERUSER_PASSWORD: 's3cret-Passw0rd' });
      await t.service.setup();
      await t.close();
      const again = await restart(t.dir, configured);
      await again.service.setup();
      expect((await again.users.find({ order: { username: 'ASC' } })).map((u) => u.username)).toEqual(['admin', 'langflow']);
      await again.close();
    });
  });

  it.each([
    [{}, 'AUTO_LOGIN=false needs SUPERUSER_PASSWORD'],
    [{ SUPERUSER_PASSWORD: 'langflow' }, 'must not be the legacy default "langflow"'],
  ])('auto-login off: refuses missing or legacy credentials (%p)', async (env, message) => {
    const t = await setup({ AUTO_LOGIN: 'false', ...env });
    await expect(t.service.setup()).rejects.toThrow(message);
    expect(await t.users.count()).toBe(0);
    await t.close();
  });
});
