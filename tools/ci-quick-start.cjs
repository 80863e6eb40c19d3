#!/usr/bin/env node
// The root README's quick start, as a newcomer runs it on a fresh clone right after `npm ci`:
// `npx nx serve demo` must build what it needs (nothing is built yet), start the cluster, answer
// /health/preload, show its status through the README's in-repo CLI command, and stop on Ctrl-C
// (SIGINT to the process group) with nothing left running. .ci/run calls this before `npm test`.
// Usage: node tools/ci-quick-start.cjs   (exits 1 with the output on any failure)
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const TIMEOUT_MS = 240_000;

const freePort = () =>
  new Promise((ok, fail) => {
    const server = net.createServer().once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });

const get = (port, path) =>
  new Promise((ok) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode, body }));
    });
    req.on('error', (error) => ok({ status: 0, body: String(error) }));
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });

const groupAlive = (pid) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

let child = null;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'np-quick-start-'));
  const port = await freePort();
  const started = Date.now();
  child = spawn('npx', ['nx', 'serve', 'demo'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), WORKERS: '2', DATA_DIR: dataDir },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const fail = (why) => {
    console.error(`== quick start FAILED: ${why}\n${out.slice(-6000)}`);
    if (groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(1);
  };
  while (!/cluster ready: 2\/2 workers/.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null)
      return fail(`npx nx serve demo exited (${child.exitCode ?? child.signalCode}) before the cluster was ready`);
    if (Date.now() - started > TIMEOUT_MS) return fail(`no "cluster ready" within ${TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const readyMs = Date.now() - started;
  const health = await get(port, '/health/preload');
  if (health.status !== 200) return fail(`/health/preload answered ${health.status}: ${health.body}`);
  const all = await get(port, '/api/v1/all');
  if (all.status !== 200) return fail(`/api/v1/all answered ${all.status}`);
  // As the README writes it, from the repository's root (where the demo's control file is).
  const status = spawnSync('npm', ['run', '-s', 'nest-preload', '--', 'status', '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  let workers;
  try {
    workers = JSON.parse(status.stdout).workers.map((w) => `${w.index}:${w.state}`);
  } catch {
    return fail(`npm run nest-preload -- status failed (${status.status}): ${status.stdout}${status.stderr}`);
  }
  if (workers.join(',') !== '0:ready,1:ready') return fail(`status shows workers ${workers.join(',')}`);
  process.kill(-child.pid, 'SIGINT');
  const stopDeadline = Date.now() + 40_000;
  while (groupAlive(child.pid)) {
    if (Date.now() > stopDeadline) return fail('processes of the demo were still running 40 s after Ctrl-C');
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(dataDir, { recursive: true, force: true });
  console.log(
    `== quick start: npx nx serve demo built and started 2 workers in ${(readyMs / 1000).toFixed(1)} s; /health/preload 200, /api/v1/all 200, status ${workers.join(' ')}; Ctrl-C left nothing running`,
  );
}

main().catch((error) => {
  console.error(`== quick start FAILED: ${error.stack ?? error}`);
  if (child && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  process.exit(1);
});
