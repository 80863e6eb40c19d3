/** Shared by the measurement tools: start the built demo as a real cluster, read /proc, summarize. */
const { execFileSync, spawn } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } = require('node:fs');
const { request } = require('node:http');
const { createServer } = require('node:net');
const { cpus, totalmem, tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const DEMO = resolve(__dirname, '../../apps/demo/dist/main.js');

/** `--name value` from argv, or the fallback. */
const flag = (args, name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

const freePort = () =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

const get = (port, path, headers = {}) =>
  new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.on('error', fail);
    req.end();
  });

/** PSS in KiB of one process. */
const pssKb = (pid) => Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);

const childrenOf = (ppid) =>
  readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid;
      } catch {
        return false;
      }
    })
    .map(Number);

/**
 * Starts the demo in a fresh dir with `env`; resolves once the primary says the cluster is ready,
 * with `readyMs` measured from the spawn. `stop()` ends it and removes the dir.
 */
async function startDemo(label, env, entry = DEMO) {
  // Flush the previous run's file writes and deletions, so they do not slow this one down.
  execFileSync('sync');
  const dir = mkdtempSync(join(tmpdir(), `bench-${label}-`));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [entry], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, PORT: String(port), DATA_DIR: join(dir, 'data'), TMPDIR: join(dir, 'tmp'), ...env },
  });
  let out = '';
  const ready = new Promise((ok, fail) => {
    const onData = (chunk) => {
      out += chunk;
      if (/cluster ready/.test(out)) ok(performance.now() - spawnedAt);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => fail(new Error(`${label}: the cluster exited before it was ready:\n${out.slice(-3000)}`)));
    setTimeout(() => fail(new Error(`${label}: not ready within 180 s`)), 180_000).unref();
  });
  const readyMs = await ready;
  return {
    port,
    pid: child.pid,
    readyMs,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.on('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The order of the modes in round `round`: a Williams design, so that over n rounds (2n when n is
 * odd) each mode runs right after each other mode equally often. A plain rotation (A B C, B C A,
 * C A B) puts every mode after the same one in every round — after PM2's tree was killed, say —
 * and that carry-over reads as a difference between the modes (seen: preload 1.04–1.06× off at
 * N = 1 under rotation).
 */
const balancedOrder = (modes, round) => {
  const n = modes.length;
  const first = [0];
  for (let lo = 1, hi = n - 1; first.length < n;) {
    first.push(lo++);
    if (first.length < n) first.push(hi--);
  }
  const r = round % (n % 2 ? 2 * n : n);
  const order = first.map((i) => (i + r) % n);
  return (n % 2 && r >= n ? order.reverse() : order).map((i) => modes[i]);
};

/**
 * Whether a preloaded cluster's output shows it settled: its serving preloader, weighed once the
 * cluster was ready, kept — or replaced, and the old process gone (its replacement is ready by then).
 */
const preloaderSettled = (out) => {
  if (/in its steps[^\n]*: it goes on serving/.test(out)) return true;
  const replaced = /replacing the preloader \(worker (\d+), pid (\d+)\)/.exec(out);
  return Boolean(replaced) && new RegExp(`worker ${replaced[1]} \\(pid ${replaced[2]}\\) exited with code 0 \\(replaced\\)`).test(out);
};

const machine = () => ({ cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version });

module.exports = { DEMO, flag, freePort, get, pssKb, childrenOf, startDemo, median, machine, balancedOrder, preloaderSettled };
