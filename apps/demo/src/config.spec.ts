import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DemoConfigError, networkFilesystem, readDemoConfig } from './config';

describe('readDemoConfig', () => {
  it('defaults: port 3000 on loopback, one worker per core, SQLite in ./.data, auto-login on, details off', () => {
    expect(readDemoConfig({}, '/srv/app')).toEqual({
      port: 3000,
      host: '127.0.0.1',
      workers: availableParallelism(),
      gracefulTimeoutMs: 30_000,
      preloadTimeoutMs: 120_000,
      preloadStart: 'auto',
      preloader: 'serves',
      heavyPreloaderRatio: null,
      reloadPreload: false,
      supervision: {},
      testHooks: false,
      runRoot: null,
      bundleUrls: [],
      flowsPath: null,
      builtinComponents: true,
      bundleLimits: { maxEntries: 20_000, maxBytes: 512 * 2 ** 20 },
      bundleRequired: true,
      bundleFetch: { timeoutMs: 30_000, retries: 2, retryDelayMs: 1_000 },
      agenticExperience: true,
      starterProjectsDir: expect.stringMatching(/apps\/demo\/assets\/starter_projects$/),
      databaseUrl: null,
      dataDir: '/srv/app/.data',
      configDir: join('/srv/app/.data', 'config'),
      redisUrl: null,
      autoLogin: true,
      healthDetails: false,
      superuser: 'langflow',
      superuserPassword: null,
      failSteps: [],
      stepDelaysMs: {},
      stepGates: {},
      exitAfterReadyMs: 0,
      multiHost: false,
      lockTimeoutMs: 120_000,
      dbRetryAttempts: 2,
      oneShot: false,
      seed: true,
      artifactCacheBytes: 8 * 2 ** 20,
      workerNodeFlags: [],
      compileCache: false,
    });
  });

  it('allows auto-login on any loopback address, and remote hosts without auto-login', () => {
    for (const HOST of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(readDemoConfig({ HOST }, '/srv').host).toBe(HOST);
    expect(readDemoConfig({ HOST: '0.0.0.0', AUTO_LOGIN: 'false' }, '/srv').host).toBe('0.0.0.0');
  });

  it('reads every variable', () => {
    const config = readDemoConfig(
      {
        PORT: '8080',
        HOST: '0.0.0.0',
        WORKERS: '0',
        AUTO_LOGIN_ALLOW_REMOTE: 'true',
        DATABASE_URL: 'postgres://u@db/x',
        DATA_DIR: 'data',
        CONFIG_DIR: '/etc/demo',
        REDIS_URL: 'redis://cache:6379',
        AUTO_LOGIN: 'false',
        HEALTH_DETAILS: 'true',
        DEMO_FAIL_STEPS: 'a, b@worker',
        DEMO_STEP_DELAY_MS: 'c:10,d@preloader:20',
        BUNDLE_URLS: 'https://x/a.zip, ./b.tar.gz',
        FLOWS_PATH: 'flows',
        BUILTIN_COMPONENTS: 'false',
        MAX_REQUESTS: '500',
        HEARTBEAT_TIMEOUT_MS: '3000',
        MULTI_HOST: 'true',
        LOCK_TIMEOUT_MS: '30000',
        DB_RETRY_ATTEMPTS: '6',
        PRELOAD_ONLY: 'true',
        DEMO_SEED: 'false',
        WORKER_NODE_FLAGS: ' --max-semi-space-size=1  --optimize-for-size',
        PIPELINE_CONCURRENCY: '3',
      },
      '/srv',
    );
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      workers: 0,
      databaseUrl: 'postgres://u@db/x',
      dataDir: '/srv/data',
      configDir: '/etc/demo',
      redisUrl: 'redis://cache:6379',
      autoLogin: false,
      healthDetails: true,
      failSteps: ['a', 'b@worker'],
      stepDelaysMs: { c: 10, 'd@preloader': 20 },
      bundleUrls: ['https://x/a.zip', './b.tar.gz'],
      flowsPath: '/srv/flows',
      builtinComponents: false,
      supervision: { maxRequests: 500, heartbeatTimeoutMs: 3000, pipelineConcurrency: 3 },
      workerNodeFlags: ['--max-semi-space-size=1', '--optimize-for-size'],
      multiHost: true,
      lockTimeoutMs: 30_000,
      dbRetryAttempts: 6,
      oneShot: true,
      seed: false,
    });
  });

  it('refuses SQLite with several hosts, and SQLite on a network filesystem, saying what to use', () => {
    expect(() => readDemoConfig({ MULTI_HOST: 'true' }, '/srv')).toThrow(
      'MULTI_HOST=true needs DATABASE_URL (PostgreSQL): SQLite is a file on one host and cannot be shared by several hosts safely.',
    );
    expect(() => readDemoConfig({ LOCK_TIMEOUT_MS: '5000' }, '/srv')).toThrow(
      'LOCK_TIMEOUT_MS="5000" is invalid: use a whole number from 10001 to 3600000.',
    );
  });

  it('recognises network filesystems by their statfs magic, from the nearest existing ancestor', () => {
    const asked: string[] = [];
    const fake = (type: number) => (path: string) => {
      asked.push(path);
      return { type };
    };
    expect(networkFilesystem('/srv/no/such/dir', fake(0x6969))).toBe('nfs');
    expect(asked).toEqual(['/srv']);
    expect(networkFilesystem('/tmp', fake(0xff534d42 | 0))).toBe('cifs');
    expect(networkFilesystem('/tmp', fake(0xef53))).toBeNull(); // ext4
    expect(
      networkFilesystem('/tmp', () => {
        throw new Error('EACCES');
      }),
    ).toBeNull();
    // And the real call on this machine's temp dir: a local filesystem.
    expect(networkFilesystem(require('node:os').tmpdir())).toBeNull();
  });

  it.each([
    [{ PORT: '70000' }, 'PORT="70000" is invalid: use a whole number from 0 to 65535.'],
    [{ WORKERS: '2.5' }, 'WORKERS="2.5" is invalid'],
    [{ HEALTH_DETAILS: 'maybe' }, 'HEALTH_DETAILS="maybe" is not a boolean'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a redis:// URL'],
    [{ DEMO_STEP_DELAY_MS: 'bundles' }, 'DEMO_STEP_DELAY_MS item "bundles" is invalid'],
    [{ PRELOAD_START: 'eager' }, 'PRELOAD_START="eager" is invalid: use one of pipelined, serial, auto.'],
    [{ BUNDLE_REQUIRED: 'sometimes' }, 'BUNDLE_REQUIRED="sometimes" is not a boolean: use true or false.'],
    [{ BUNDLE_RETRIES: '-1' }, 'BUNDLE_RETRIES="-1" is invalid: use a whole number from 0 to 20.'],
    [
      { BUNDLE_URLS: '/b.tar.gz', BUNDLE_RETRIES: '3' },
      'BUNDLE_TIMEOUT_MS=30000 with BUNDLE_RETRIES=3 and BUNDLE_RETRY_DELAY_MS=1000 can spend 127000 ms on one bundle, not less than PRELOAD_TIMEOUT_MS=120000: lower the timeout or the retries, or raise PRELOAD_TIMEOUT_MS.',
    ],
    [
      { HOST: '0.0.0.0' },
      'AUTO_LOGIN is on and HOST=0.0.0.0 is not a loopback address: anyone who can reach the port would be a superuser.',
    ],
  ])('refuses %p', (env, message) => {
    expect(() => readDemoConfig(env, '/srv')).toThrow(DemoConfigError);
    expect(() => readDemoConfig(env, '/srv')).toThrow(message);
  });
});
