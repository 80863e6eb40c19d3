import { FileLock, PreloadModule } from '@lf/nest-preload';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { readDemoConfig } from '../config';
import { dataSourceOptions } from '../database/data-source.options';
import { User } from '../database/user.entity';
import { DEMO_CONFIG } from '../demo.tokens';
import { SuperuserService } from './superuser.service';

/** A SuperuserService on a fresh SQLite file (migrated), with its own lock dir. */
async function setup(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'superuser-spec-'));
  const config = readDemoConfig({ DATA_DIR: dir, ...env }, dir);
  const lockDir = join(dir, 'locks');
  const ref = await Test.createTestingModule({
    imports: [
      PreloadModule.forRoot({ lockDir, isGlobal: true }),
      TypeOrmModule.forRoot(dataSourceOptions(config, 'standalone')),
      TypeOrmModule.forFeature([User]),
    ],
    providers: [SuperuserService, { provide: DEMO_CONFIG, useValue: config }],
  }).compile();
  const dataSource = ref.get<DataSource>(getDataSourceToken());
  await dataSource.runMigrations();
  const users = dataSource.getRepository(User);
  return { service: ref.get(SuperuserService), users, lock: new FileLock(lockDir), close: () => ref.close() };
}

/** Holds the superuser lock from "another process" until released. */
function holdLock(lock: FileLock) {
  let release!: () => void;
  const held = lock.withLock('superuser', () => new Promise<void>((r) => (release = r)));
  return { release: async () => { release(); await held; }, ready: new Promise((r) => setTimeout(r, 50)) };
}

describe('SuperuserService.setup', () => {
  it('auto-login: creates the superuser once, then is already satisfied; the password hash is never the plain text', async () => {
    const t = await setup();
    await expect(t.service.setup()).resolves.toBe('created');
    await expect(t.service.setup()).resolves.toBe('already_satisfied');
    const rows = await t.users.find();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ username: 'langflow', isSuperuser: true, passwordHash: expect.stringMatching(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/) });
    await t.close();
  });

  it('auto-login: 8 concurrent setups create exactly one user', async () => {
    const t = await setup();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => t.service.setup()));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already_satisfied')).toHaveLength(7);
    expect(await t.users.count()).toBe(1);
    await t.close();
  });

  it('lock timed out but the superuser exists: says so instead of failing', async () => {
    const t = await setup();
    await t.service.setup();
    const holder = holdLock(t.lock);
    await holder.ready;
    await expect(t.service.setup(200)).resolves.toBe('lock_timed_out_superuser_present');
    await holder.release();
    await t.close();
  });

  it('lock timed out and no superuser: a loud error that tells the operator what to do', async () => {
    const t = await setup();
    const holder = holdLock(t.lock);
    await holder.ready;
    await expect(t.service.setup(200)).rejects.toThrow('Timed out after 200 ms waiting for the superuser lock, and no superuser "langflow" exists. Another process may be stuck holding it: retry the start, or create the superuser yourself');
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

  it('auto-login off: initializes the configured superuser, then leaves it unchanged', async () => {
    const t = await setup({ AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: 's3cret-Passw0rd' });
    await expect(t.service.setup()).resolves.toBe('initialized');
    await expect(t.service.setup()).resolves.toBe('unchanged');
    expect((await t.users.find()).map((u) => u.username)).toEqual(['admin']);
    await t.close();
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
