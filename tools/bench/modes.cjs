/**
 * How the benchmark starts the demo in each mode, as real process trees, and what it reads off
 * them: time until every worker is ready, PSS of every process (from /proc/PID/smaps_rollup),
 * server-side database connections.
 */
const { execFileSync, spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { DEMO, childrenOf, preloaderSettled, pssKb } = require('../lib/demo-runner.cjs');

const PM2_BIN = resolve(__dirname, '../../node_modules/pm2/bin/pm2');
const TYPICAL = resolve(__dirname, '../../apps/typical-api/dist/main.js');

/** The benchmark's modes: what each one is, for the report. */
const MODES = {
  preload: 'preload on (`runCluster`, preloader + workers)',
  off: 'preload off (`runCluster`, every worker does the full start-up)',
  pm2: 'PM2 cluster mode running the same demo standalone, preload off',
  floor: 'no components, no bundle, no seeding (`runCluster`, preload off): what a worker costs when start-up does nothing',
};

/**
 * The two workloads. `demo`: the Langflow-shaped demo, heavy one-time work that leaves results
 * (K generated components on top of its 24 built-in ones). `typical`: apps/typical-api, shaped
 * like most production APIs — 24 feature modules, validation, OpenAPI generated at boot, 24
 * TypeORM entities, a migration and seeds well under a second: boot-heavy, step-light.
 */
const WORKLOADS = {
  demo: { entry: DEMO, env: (mode, bundle) => modeEnv(mode, bundle), paths: ['/api/v1/all', '/api/v1/version'] },
  typical: {
    entry: TYPICAL,
    env: (mode) => ({ NEST_PRELOAD: String(mode === 'preload'), ...(mode === 'floor' ? { TYPICAL_STEPS: 'false' } : {}) }),
    // Its floor runs no migration, so no table route: the OpenAPI document, which every mode serves.
    paths: ['/docs-json'],
  },
};

/** Environment of one mode at one bundle (null bundle: K = 0, only the 24 built-in components). */
function modeEnv(mode, bundle) {
  const withBundle = bundle ? { BUNDLE_URLS: bundle } : {};
  switch (mode) {
    case 'preload':
      return { NEST_PRELOAD: 'true', ...withBundle };
    case 'off':
      return { NEST_PRELOAD: 'false', ...withBundle };
    case 'pm2':
      return { NEST_PRELOAD: 'false', ...withBundle };
    case 'floor':
      return { NEST_PRELOAD: 'false', BUILTIN_COMPONENTS: 'false', DEMO_SEED: 'false' };
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** Resolves once something accepts TCP connections on the loopback port. */
async function waitForPort(port, timeoutMs) {
  const { connect } = require('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const waitUntil = async (check, timeoutMs, what) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/**
 * Starts one mode with `workers` workers; resolves once every worker is ready, with `readyMs`
 * measured from the spawn. `tree()` lists {role, pid} of the process tree at steady state.
 */
async function start(mode, { workers, port, env, nodeArgs = [], node = process.execPath, entry = DEMO }) {
  execFileSync('sync'); // the previous run's file churn must not slow this start
  const dir = mkdtempSync(join(tmpdir(), `bench-${mode}-`));
  mkdirSync(join(dir, 'tmp'));
  const baseEnv = {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    TMPDIR: join(dir, 'tmp'),
    NO_COLOR: '1',
    ...env,
  };
  return mode === 'pm2'
    ? startPm2(dir, workers, baseEnv, nodeArgs, entry)
    : startCluster(mode, dir, workers, baseEnv, nodeArgs, node, entry);
}

async function startCluster(mode, dir, workers, env, nodeArgs, node, entry) {
  let finalTrace = null;
  const spawnedAt = performance.now();
  const child = spawn(node, [...nodeArgs, entry], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, WORKERS: String(workers) },
  });
  let out = '';
  let exited = false;
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  child.on('exit', () => (exited = true));
  let readyMs;
  try {
    readyMs = await waitUntil(
      () => {
        if (exited) throw new Error(`${mode}: the cluster exited before it was ready:\n${out.slice(-3000)}`);
        return /cluster ready/.test(out) && performance.now() - spawnedAt;
      },
      300_000,
      `${mode} ready`,
    );
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  if (!/cluster ready: \d+\/\d+ workers \(preloaded/.test(out) && mode === 'preload')
    throw new Error(`preload mode did not preload:\n${out.slice(-3000)}`);
  return {
    readyMs,
    primaryPid: child.pid,
    /** The start-up timeline the primary wrote (null with the timeline off), read before stop() removes the dir. */
    trace: () => {
      const file = join(dir, '.nest-preload', 'timeline.json');
      return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
    },
    tree: () => [{ role: 'primary', pid: child.pid }, ...childrenOf(child.pid).map((pid) => ({ role: 'worker', pid }))],
    // A serving preloader is weighed once the cluster is ready: settled when it was kept, or when
    // the one it replaced has exited (its replacement is ready by then). Other modes: at once.
    settled: async () => {
      if (mode !== 'preload') return;
      await waitUntil(
        () => {
          if (exited) throw new Error(`${mode}: the cluster exited before it settled:\n${out.slice(-3000)}`);
          return preloaderSettled(out);
        },
        120_000,
        `${mode} settled`,
      );
    },
    replacedPreloader: () => /replacing the preloader/.test(out),
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await waitUntil(() => exited, 60_000, `${mode} stop`);
      }
      const file = join(dir, '.nest-preload', 'timeline.json');
      finalTrace = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
      rmSync(dir, { recursive: true, force: true });
    },
    /** After stop(): the timeline as the primary wrote it last, as it stopped (every write before it counted in its cost). */
    finalTrace: () => finalTrace,
  };
}

/**
 * PM2 in cluster mode, in its own PM2_HOME: its daemon is the cluster primary, each instance runs
 * the demo standalone (WORKERS=0). Ready when every instance has logged that Nest started.
 */
async function startPm2(dir, workers, env, nodeArgs, entry) {
  if (!existsSync(PM2_BIN)) throw new Error('pm2 is not installed: run npm ci (it is a dev dependency of the benchmark)');
  const home = join(dir, 'pm2');
  const pm2Env = { ...env, PM2_HOME: home, WORKERS: '0' };
  const pm2 = (...args) => execFileSync(process.execPath, [PM2_BIN, ...args], { env: pm2Env, cwd: dir, stdio: 'pipe', encoding: 'utf8' });
  const spawnedAt = performance.now();
  pm2(
    'start',
    entry,
    '--name',
    'app',
    '-i',
    String(workers),
    '--no-autorestart',
    '--merge-logs',
    '--output',
    join(dir, 'out.log'),
    '--error',
    join(dir, 'err.log'),
    ...(nodeArgs.length ? ['--node-args', nodeArgs.join(' ')] : []),
  );
  const log = () =>
    (existsSync(join(dir, 'out.log')) ? readFileSync(join(dir, 'out.log'), 'utf8') : '') +
    (existsSync(join(dir, 'err.log')) ? readFileSync(join(dir, 'err.log'), 'utf8') : '');
  let readyMs;
  try {
    readyMs = await waitUntil(
      () => (log().match(/Nest application successfully started/g) ?? []).length >= workers && performance.now() - spawnedAt,
      300_000,
      'pm2 ready',
    );
  } catch (error) {
    try {
      pm2('kill');
    } catch {
      /* already gone */
    }
    throw new Error(`${error.message}\n${log().slice(-3000)}`, { cause: error });
  }
  // Nest logs "successfully started" just before the server listens: wait until the port answers
  // too (the time to ready stays the log's, in PM2's favour), or the first request may be refused.
  await waitForPort(Number(env.PORT), 30_000);
  const daemonPid = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
  return {
    readyMs,
    primaryPid: daemonPid,
    tree: () => [{ role: 'primary', pid: daemonPid }, ...childrenOf(daemonPid).map((pid) => ({ role: 'worker', pid }))],
    settled: async () => undefined,
    replacedPreloader: () => false,
    stop: async () => {
      // Measurements are done: end the tree at once (`pm2 kill` takes over 2 s of graceful stops per run).
      const pids = [...childrenOf(daemonPid), daemonPid];
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await waitUntil(
        () => pids.every((pid) => !existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))),
        30_000,
        'pm2 stop',
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh PostgreSQL database on the server of `adminUrl` (null: none, the demo uses SQLite), named
 * `<prefix>_<random>`: its `env` for the demo, the connections the server counts on it, and `drop()`.
 */
async function freshDatabase(adminUrl, prefix = 'bench') {
  if (!adminUrl) return { env: {}, connections: async () => null, drop: async () => undefined };
  const { Client } = require('pg');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    connections: async () =>
      Number(
        (await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]))
          .rows[0].n,
      ),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** PSS (KiB) of each process of the tree; processes that ended meanwhile are left out. */
function treePss(tree) {
  const out = [];
  for (const { role, pid } of tree) {
    try {
      out.push({ role, pid, pssKb: pssKb(pid) });
    } catch {
      /* it ended */
    }
  }
  return out;
}

/** PSS of a bare `node` process idling, for the primary's comparison. */
async function bareNodePssKb() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const kb = pssKb(child.pid);
  child.kill();
  return kb;
}

module.exports = { MODES, WORKLOADS, modeEnv, start, freshDatabase, treePss, bareNodePssKb };
