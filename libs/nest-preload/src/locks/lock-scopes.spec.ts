import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreloadConfigError } from '../errors/preload.error';
import { PreloadModule } from '../preload.module';
import { resolvePreloadOptions } from '../preload.options';
import { PreloadProcessContext } from '../process-context';
import { PreloadStep } from '../steps/preload-step.decorator';
import type { StepContext } from '../steps/step.types';
import type { HeldLock, LockBackend } from './lock-backend';
import { StartupLock } from './startup-lock';

/** A database lock that records what ran under it. */
class RecordingLock implements LockBackend {
  readonly kind = 'recording';
  readonly crossHost = true;
  readonly taken: Array<{ name: string; timeoutMs?: number }> = [];
  async withLock<T>(name: string, fn: (held: HeldLock) => Promise<T>, options?: { timeoutMs?: number }): Promise<T> {
    this.taken.push({ name, timeoutMs: options?.timeoutMs });
    return fn({ name, signal: new AbortController().signal, session: `session-of-${name}` });
  }
}

@Injectable()
class ScopedSteps {
  seen: Record<string, unknown> = {};
  @PreloadStep({ name: 'migrations', scope: 'database', critical: true, lockTimeoutMs: 90_000 })
  async migrations({ lock }: StepContext) {
    this.seen.migrations = lock?.session;
  }
  @PreloadStep({ name: 'superuser', after: ['migrations'], scope: 'database', lock: false })
  async superuser({ lock }: StepContext) {
    this.seen.superuser = lock;
  }
  @PreloadStep({ name: 'pictures', scope: 'host' })
  async pictures({ lock }: StepContext) {
    this.seen.pictures = lock && { name: lock.name, session: lock.session };
  }
  @PreloadStep({ name: 'types', scope: 'process' })
  async types({ lock }: StepContext) {
    this.seen.types = lock;
  }
}

@Module({ providers: [ScopedSteps] })
class Feature {}

async function boot(databaseLock: LockBackend | null, hosts?: 'single' | 'multiple', ctx = new PreloadProcessContext('standalone', 1)) {
  const ref = await Test.createTestingModule({
    imports: [PreloadModule.forRoot({ isGlobal: true, lockDir: mkdtempSync(join(tmpdir(), 'scope-spec-')), databaseLock, hosts }), Feature],
  })
    .overrideProvider(PreloadProcessContext)
    .useValue(ctx)
    .compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  return { app, steps: app.get(ScopedSteps) };
}

describe('step scopes and their locks', () => {
  it('database steps run under the database lock (named step-<name>, with their timeout), host steps under the file lock, process steps under none', async () => {
    const db = new RecordingLock();
    const { app, steps } = await boot(db, 'multiple');
    expect(db.taken).toEqual([{ name: 'step-migrations', timeoutMs: 90_000 }]);
    expect(steps.seen).toEqual({
      migrations: 'session-of-step-migrations',
      superuser: null,
      pictures: { name: 'step-pictures', session: null },
      types: null,
    });
    await app.close();
  });

  it('without a database lock (one host), database steps fall back to the file lock', async () => {
    const { app, steps } = await boot(null);
    expect(steps.seen.migrations).toBeNull();
    expect(app.get(StartupLock).backendFor('database').kind).toBe('file');
    await app.close();
  });

  it('StartupLock picks the backend by scope', async () => {
    const db = new RecordingLock();
    const { app } = await boot(db);
    const lock = app.get(StartupLock);
    expect(lock.backendFor('database')).toBe(db);
    expect(lock.backendFor('host').kind).toBe('file');
    await expect(lock.withLock('superuser', async (held) => held.session, { scope: 'database' })).resolves.toBe('session-of-superuser');
    await app.close();
  });

  it('hosts: "multiple" without a cross-host database lock is refused, saying what to use', () => {
    expect(() => resolvePreloadOptions({ hosts: 'multiple' })).toThrow(PreloadConfigError);
    expect(() => resolvePreloadOptions({ hosts: 'multiple' })).toThrow(
      /needs a databaseLock that excludes other hosts: file locks cannot see processes on other hosts\. With PostgreSQL, use pgAdvisoryLock\(\{ connection: process\.env\.DATABASE_URL \}\) from @lf\/nest-preload\/pg \(any ORM\), or typeOrmAdvisoryLock\(dataSource\)/,
    );
    const local: LockBackend = {
      kind: 'file',
      crossHost: false,
      withLock: (name, fn) => fn({ name, signal: new AbortController().signal, session: null }),
    };
    expect(() => resolvePreloadOptions({ hosts: 'multiple', databaseLock: local })).toThrow(/the "file" lock given does not/);
    expect(() => resolvePreloadOptions({ hosts: 'several' as never })).toThrow(
      'Invalid preload option hosts="several": expected "single" or "multiple".',
    );
    // A DataSource passed where the lock belongs is a likely mistake: named by its class, not dumped.
    class DataSource {
      self = this;
    }
    expect(() => resolvePreloadOptions({ databaseLock: new DataSource() as never })).toThrow(
      new PreloadConfigError(
        'Invalid preload option databaseLock="an object of class DataSource": expected a lock backend (withLock, kind, crossHost), e.g. typeOrmAdvisoryLock(dataSource).',
      ),
    );
  });

  it('a step with an unknown scope or a bad lock timeout is refused at boot, naming it', async () => {
    const { StepPlan } = await import('../steps/step-plan');
    const base = { after: [], critical: false, owner: 'S.m' };
    expect(() => StepPlan.build([{ ...base, name: 'a', scope: 'cluster' as never }])).toThrow(
      'Preload step "a" (S.m) has scope "cluster": expected one of "process", "host", "database".',
    );
    expect(() => StepPlan.build([{ ...base, name: 'a', lockTimeoutMs: -1 }])).toThrow(/lockTimeoutMs -1: expected a positive whole number/);
  });

  describe('on a platform that runs several instances', () => {
    const saved = { ...process.env };
    let warn: jest.SpyInstance;
    beforeEach(() => {
      for (const key of Object.keys(process.env))
        if (/^(KUBERNETES_|DYNO$|ECS_|K_SERVICE$|FLY_|RENDER|RAILWAY_|NOMAD_|GAE_|WEBSITE_INSTANCE_ID$|CONTAINER_APP_NAME$)/.test(key))
          delete process.env[key];
      warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    });
    afterEach(() => {
      // Restored key by key: assigning process.env a plain object would leave it one.
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      warn.mockRestore();
    });
    const warnings = () =>
      warn.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('file lock that only excludes processes of this host'));

    it('warns once, with the fix, when database steps would run under the file lock', async () => {
      process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
      const { app } = await boot(null);
      expect(warnings()).toEqual([expect.stringContaining('This app runs on Kubernetes (KUBERNETES_SERVICE_HOST is set)')]);
      expect(warnings()[0]).toContain('database step(s) migrations, superuser are guarded by a file lock');
      expect(warnings()[0]).toContain("hosts: 'multiple', databaseLock: pgAdvisoryLock({ connection: process.env.DATABASE_URL })");
      expect(warnings()[0]).toContain(
        "also with a one-shot Job (NEST_PRELOAD_ONE_SHOT=true) before the rollout, since every replica's preloader still runs them",
      );
      await app.close();
    });

    it.each([
      ['DYNO', 'web.2', 'Heroku'],
      ['ECS_CONTAINER_METADATA_URI_V4', 'http://169.254.170.2/v4/x', 'Amazon ECS'],
      ['K_SERVICE', 'api', 'Google Cloud Run'],
      ['FLY_ALLOC_ID', 'abc', 'Fly.io'],
    ])('knows %s (%s) as %s', async (variable, value, platform) => {
      process.env[variable] = value;
      const { app } = await boot(null);
      expect(warnings()).toEqual([expect.stringContaining(`This app runs on ${platform} (${variable} is set)`)]);
      await app.close();
    });

    it('says nothing without such a platform, with a cross-host lock, or once the app said hosts: "single"', async () => {
      for (const [lock, hosts, env] of [
        [null, undefined, undefined],
        [new RecordingLock(), undefined, '10.96.0.1'],
        [new RecordingLock(), 'multiple', '10.96.0.1'],
        [null, 'single', '10.96.0.1'],
      ] as const) {
        if (env) process.env.KUBERNETES_SERVICE_HOST = env;
        else delete process.env.KUBERNETES_SERVICE_HOST;
        const { app } = await boot(lock, hosts);
        await app.close();
      }
      expect(warnings()).toEqual([]);
    });

    it('is said by the process that runs the plan first: worker 0 with preload off, not the other workers', async () => {
      process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
      const first = await boot(null, undefined, new PreloadProcessContext('worker', 1, 1));
      expect(warnings()).toEqual([]);
      const zero = await boot(null, undefined, new PreloadProcessContext('worker', 1, 0));
      expect(warnings()).toHaveLength(1);
      await first.app.close();
      await zero.app.close();
    });
  });
});
