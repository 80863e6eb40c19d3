#!/usr/bin/env node
/**
 * The chaos soak: the built demo as a real cluster on a fresh PostgreSQL database, C writers
 * creating flows as fast as they can, and a seeded fault injector that SIGKILLs or SIGSTOPs a
 * random worker every few seconds. At the end it checks what a client may expect of a cluster
 * that supervises its workers:
 *
 *   - the primary is still running (it never halts on a worker's death);
 *   - no connection was refused (the listening socket never went away);
 *   - every acknowledged write is in the database, exactly once (no duplicate id or name);
 *   - less than 1 % of the requests failed (only those in flight on a killed worker may).
 *
 *   npm run soak                                   # 60 s, 3 workers, 8 writers, a SIGKILL every 2.5 s
 *   npm run soak -- --seconds 60 --fault kill
 *   npm run soak -- --seconds 30 --fault stop      # SIGSTOP past the heartbeat timeout, SIGCONT later
 *   npm run soak -- --fault mixed --reload-at-ms 10000 --seed 42
 *
 *   options: --seconds S (60) --workers N (3) --writers C (8) --kill-every-ms MS (2500)
 *            --interval poisson|fixed (poisson)
 *            --fault kill|stop|mixed (kill) --stop-ms MS (heartbeat timeout + 3000)
 *            --heartbeat-timeout-ms MS (2000) --heartbeat-interval-ms MS (250)
 *            --reload-at-ms MS (none: no SIGHUP) --seed N (random, printed)
 *            --connections fresh|keep-alive|mixed (fresh) --request-timeout-ms MS (10000)
 *            --max-restarts N (the library's default) --min-serving N (1) --max-requests N (1000000)
 *            --preload true|false (true) --pg URL (postgres://postgres@127.0.0.1:5432/postgres)
 *            --ready-timeout-ms MS (120000) --verbose (the cluster's output on stderr)
 *
 * The faults come one per --kill-every-ms on average, at random (a Poisson process; --interval
 * fixed: a strict period). The seed fixes that schedule, which fault (mixed), which worker
 * among the live ones sorted by pid, and the ids written; what the cluster is doing at each
 * instant still depends on timing, so a seed makes a run comparable, not identical.
 * A fault never takes out one of the last --min-serving serving workers (booting or stopped ones
 * may always be hit): with none left, Node's cluster closes the listening socket and connections
 * are refused whatever the supervisor does, which would be a failure of the soak, not of the cluster.
 * The supervisor runs with its default restart policy: a worker that served minUptimeMs starts its
 * index's count over, and a crash loop halts only when every index loops and none serves.
 *
 * Prints progress on stderr and one JSON summary on stdout; exit code 0 when every expectation
 * holds, 1 when one fails, 2 when the soak could not run (bad option, no database, no demo build).
 * Bounded: every loop is bounded in count and time; at the end the cluster's whole process group
 * is killed, the temp dir removed and the database dropped. Needs the demo built: `npm run build`.
 */
'use strict';
const { spawn } = require('node:child_process');
const { createHash, randomInt } = require('node:crypto');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } = require('node:fs');
const http = require('node:http');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const { Client } = require('pg');
const { freshDatabase } = require('./bench/modes.cjs');
const { DEMO, freePort } = require('./lib/demo-runner.cjs');

const DEFAULT_PG = process.env.SOAK_PG_URL ?? process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME_PREFIX = 'soak-';
/** A failure share at or above this fails the soak. */
const MAX_FAILURE_SHARE = 0.01;
/** How long the writers go on after the primary exited, to see what clients then get. */
const AFTER_EXIT_MS = 1_000;
/** The same standard signal sent twice before it is handled counts once: keep faults this far apart at least. */
const MIN_FAULT_GAP_MS = 100;

/** Seeded PRNG (mulberry32): a float in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUID derived from the seed, the writer and its sequence number: unique per request, reproducible. */
function requestId(seed, writer, seq) {
  const h = createHash('sha256').update(`${seed}:${writer}:${seq}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * When the faults come, in ms from the start of the writers, drawn from their own stream of the
 * seed. `poisson`: independent gaps, exponential with mean `everyMs` (kept within 100 ms and 4 ×
 * the mean), so faults land at every phase of a replacement's boot (about 2 s here, under load),
 * now and then a few in a row; `fixed`: a strict period, at the same phase every time.
 */
function faultTimes(seed, totalMs, everyMs, interval) {
  const random = prng((seed ^ 0x9e3779b9) >>> 0);
  const gap = () =>
    interval === 'fixed' ? everyMs : Math.round(Math.min(4 * everyMs, Math.max(MIN_FAULT_GAP_MS, -everyMs * Math.log(1 - random()))));
  const out = [];
  for (let at = gap(); at < totalMs && out.length < 100_000; at += gap()) out.push(at);
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `promise`'s value, or null after `ms`; the timer is cleared either way (nothing left pending). */
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((r) => (timer = setTimeout(() => r(null), ms)))]).finally(() => clearTimeout(timer));
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, ...]; null when it is gone. */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Child pids of `ppid`, from /proc/PID/task/TID/children (every thread may have forked). */
function childPids(ppid) {
  const out = new Set();
  let tasks;
  try {
    tasks = readdirSync(`/proc/${ppid}/task`);
  } catch {
    return [];
  }
  for (const tid of tasks) {
    try {
      for (const pid of readFileSync(`/proc/${ppid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
        out.add(Number(pid));
    } catch {
      // the thread ended while we looked
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** The nest-preload role and index of a child, from its environment (`worker`, `preloader`, or null). */
function roleOf(pid) {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const get = (name) => env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1) ?? null;
    const index = get('NEST_PRELOAD_WORKER_INDEX');
    return { role: get('NEST_PRELOAD_ROLE'), index: index === null ? null : Number(index) };
  } catch {
    return { role: null, index: null };
  }
}

/** Live (not zombie) worker children of the primary: { pid, index, state, startTime }. */
function workersOf(primaryPid) {
  const out = [];
  for (const pid of childPids(primaryPid)) {
    const stat = procStat(pid);
    if (!stat || stat[0] === 'Z' || stat[0] === 'X') continue;
    const { role, index } = roleOf(pid);
    if (role !== 'worker') continue;
    // Field 22 of stat (starttime) is index 19 after the name: with the pid it names one process.
    out.push({ pid, index, state: stat[0], startTime: stat[19] });
  }
  return out;
}

/** Sends a signal to `pid` only if it is still the process started at `startTime`. */
function signalSame(pid, startTime, signal) {
  const stat = procStat(pid);
  if (!stat || stat[19] !== startTime) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** How a failed request is counted. */
function classify(error) {
  const code = error && error.code;
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'SOAK_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(String(error && error.message))) return 'inFlight';
  return 'other';
}

/** One POST of a JSON body; resolves { status, body } or rejects with the socket error. */
function postJson(port, path, payload, { agent, timeoutMs }) {
  const data = Buffer.from(JSON.stringify(payload));
  return new Promise((ok, fail) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': data.length, ...(agent ? {} : { connection: 'close' }) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
        res.on('error', fail);
      },
    );
    req.setTimeout(timeoutMs, () => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      error.code = 'SOAK_TIMEOUT';
      req.destroy(error);
    });
    req.on('error', fail);
    req.end(data);
  });
}

const DEFAULTS = {
  seconds: 60,
  workers: 3,
  writers: 8,
  killEveryMs: 2_500,
  interval: 'poisson',
  fault: 'kill',
  stopMs: null,
  heartbeatTimeoutMs: 2_000,
  heartbeatIntervalMs: 250,
  reloadAtMs: null,
  seed: null,
  connections: 'fresh',
  requestTimeoutMs: 10_000,
  maxRestarts: null,
  minServing: 1,
  maxRequests: 1_000_000,
  preload: true,
  pg: DEFAULT_PG,
  readyTimeoutMs: 120_000,
  verbose: false,
};

/** Checks and completes the options; throws a plain Error naming the bad one. */
function resolveOptions(input = {}) {
  const unknown = Object.keys(input).filter((k) => !(k in DEFAULTS) && k !== 'log' && k !== 'signal');
  if (unknown.length) throw new Error(`unknown option(s): ${unknown.join(', ')}`);
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
  const whole = (name, min, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(o[name]) || o[name] < min || o[name] > max)
      throw new Error(`${name}=${o[name]} is invalid: use a whole number from ${min} to ${max}`);
  };
  whole('seconds', 1, 3_600);
  whole('workers', 1, 64);
  whole('writers', 1, 256);
  whole('killEveryMs', MIN_FAULT_GAP_MS, 3_600_000);
  whole('heartbeatIntervalMs', 10, 60_000);
  whole('heartbeatTimeoutMs', o.heartbeatIntervalMs + 1, 600_000);
  whole('requestTimeoutMs', 100, 600_000);
  whole('maxRequests', 1, 100_000_000);
  whole('readyTimeoutMs', 1_000, 3_600_000);
  if (!['kill', 'stop', 'mixed'].includes(o.fault)) throw new Error(`fault=${o.fault} is invalid: use kill, stop or mixed`);
  if (!['fresh', 'keep-alive', 'mixed'].includes(o.connections))
    throw new Error(`connections=${o.connections} is invalid: use fresh, keep-alive or mixed`);
  if (typeof o.preload !== 'boolean') throw new Error('preload must be true or false');
  if (o.stopMs === null) o.stopMs = o.heartbeatTimeoutMs + 3_000;
  whole('stopMs', 1, 600_000);
  if (o.reloadAtMs !== null) whole('reloadAtMs', 0, o.seconds * 1000);
  if (o.seed === null) o.seed = randomInt(1, 2 ** 31);
  whole('seed', 0, 2 ** 32 - 1);
  if (!['poisson', 'fixed'].includes(o.interval)) throw new Error(`interval=${o.interval} is invalid: use poisson or fixed`);
  o.faultTimesMs = faultTimes(o.seed, o.seconds * 1000, o.killEveryMs, o.interval);
  o.plannedFaults = o.faultTimesMs.length;
  if (o.maxRestarts !== null) whole('maxRestarts', 0, 1_000_000);
  whole('minServing', 0, o.workers - 1);
  return o;
}

/**
 * Runs one soak; resolves with the summary (`ok`, `expectations`, the counts, the faults). Throws
 * only when the soak cannot run at all (no database, no build, the cluster never got ready).
 * `log` receives progress lines; `signal` (an AbortSignal) ends the soak early, cleaning up.
 */
async function soak(input = {}) {
  const o = resolveOptions(input);
  const log = input.log ?? ((line) => process.stderr.write(`[soak] ${line}\n`));
  const aborted = () => Boolean(input.signal && input.signal.aborted);
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build the demo first (npm run build)`);
  const random = prng(o.seed);
  log(
    `seed ${o.seed}: ${o.workers} workers, ${o.writers} writers, fault ${o.fault} every ${o.killEveryMs} ms (${o.interval}; ${o.plannedFaults} planned) for ${o.seconds} s` +
      (o.fault !== 'kill' ? ` (stop ${o.stopMs} ms, heartbeat timeout ${o.heartbeatTimeoutMs} ms)` : '') +
      (o.reloadAtMs !== null ? `, SIGHUP at ${o.reloadAtMs} ms` : ''),
  );

  const db = await freshDatabase(o.pg, 'soak');
  let dir = null;
  let child = null;
  let exit = null;
  const lines = [];
  const events = [];
  /** Pids that logged their start (serving), and those the watchdog is killing (serving no more). */
  const serving = new Set();
  const condemned = new Set();
  /** Set once the primary says it halts: no fault after that (it would only blur the record). */
  let halting = false;
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const killGroup = () => {
    if (!child) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // nothing left
    }
  };
  // Last resort if our own process ends in the middle: leave no cluster behind.
  process.once('exit', killGroup);
  try {
    dir = mkdtempSync(join(tmpdir(), 'chaos-soak-'));
    for (const sub of ['tmp', 'data', 'config']) mkdirSync(join(dir, sub));
    const port = await freePort();
    const spawnedAt = Date.now();
    child = spawn(process.execPath, [DEMO], {
      cwd: dir,
      // Its own process group: the whole cluster can be killed at once at the end.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        WORKERS: String(o.workers),
        NEST_PRELOAD: String(o.preload),
        DATABASE_URL: db.env.DATABASE_URL,
        DATA_DIR: join(dir, 'data'),
        CONFIG_DIR: join(dir, 'config'),
        TMPDIR: join(dir, 'tmp'),
        GRACEFUL_TIMEOUT_MS: '5000',
        HEARTBEAT_INTERVAL_MS: String(o.heartbeatIntervalMs),
        HEARTBEAT_TIMEOUT_MS: String(o.heartbeatTimeoutMs),
        ...(o.maxRestarts === null ? {} : { MAX_RESTARTS: String(o.maxRestarts) }),
      },
    });
    const exited = new Promise((ok) =>
      child.on('exit', (code, signal) => {
        exit = { code, signal, at: Date.now() };
        ok(exit);
      }),
    );
    let partial = '';
    const take = (chunk) => {
      // eslint-disable-next-line no-control-regex -- strips the terminal colour codes Nest writes
      partial += chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (o.verbose) process.stderr.write(`  | ${line}\n`);
        lines.push(line);
        if (lines.length > 4_000) lines.splice(0, 1_000);
        const started = /\[Nest\] (\d+) .*Nest application successfully started/.exec(line);
        if (started) serving.add(Number(started[1]));
        // Killed by the watchdog (a stopped worker): serving no more, even while it still exits.
        const hung = /\(pid (\d+)\) has not answered for/.exec(line);
        if (hung) condemned.add(Number(hung[1]));
        if (/\[nest-preload\] primary \d+:.*halting/.test(line)) halting = true;
        // The primary's own lines (supervision events), bounded.
        if (/\[nest-preload\] primary \d+:/.test(line) && events.length < 400)
          events.push(`+${Date.now() - spawnedAt} ms ${line.replace(/^.*?\[nest-preload\] primary \d+:\s*/, '')}`);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);

    // Ready, bounded.
    const readyDeadline = Date.now() + o.readyTimeoutMs;
    while (!lines.some((l) => /cluster ready/.test(l))) {
      if (exit)
        throw new Error(
          `the cluster exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${lines.slice(-40).join('\n')}`,
        );
      if (aborted()) throw new Error('aborted before the cluster was ready');
      if (Date.now() > readyDeadline)
        throw new Error(`the cluster was not ready within ${o.readyTimeoutMs} ms:\n${lines.slice(-40).join('\n')}`);
      await sleep(50);
    }
    const readyMs = Date.now() - spawnedAt;
    log(
      `cluster ready in ${readyMs} ms (primary pid ${child.pid}, port ${port}, database ${new URL(db.env.DATABASE_URL).pathname.slice(1)})`,
    );

    // The writers.
    const startedAt = Date.now();
    const deadline = startedAt + o.seconds * 1000;
    let stopWriters = false;
    let endedEarly = null;
    const counts = { requests: 0, acknowledged: 0, refused: 0, inFlight: 0, timeouts: 0, badAck: 0, non2xx: {}, other: {} };
    const acked = [];
    const sample = { inFlight: [], other: [], non2xx: [] };
    const note = (kind, text) => sample[kind].length < 5 && sample[kind].push(text);
    const writer = async (w) => {
      const keepAlive = o.connections === 'keep-alive' || (o.connections === 'mixed' && w % 2 === 1);
      const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
      try {
        for (let seq = 0; !stopWriters && Date.now() < deadline && counts.requests < o.maxRequests; seq++) {
          const id = requestId(o.seed, w, seq);
          const name = `${NAME_PREFIX}${o.seed}-${w}-${seq}`;
          counts.requests++;
          try {
            const res = await postJson(
              port,
              '/api/v1/flows',
              { id, name, description: 'chaos soak', data: { nodes: [{ id: 'a', type: 'SplitText', inputs: { text: name } }], edges: [] } },
              { agent, timeoutMs: o.requestTimeoutMs },
            );
            if (res.status >= 200 && res.status < 300) {
              let body = null;
              try {
                body = JSON.parse(res.body);
              } catch {
                // counted below
              }
              if (body && body.id === id && body.name === name) {
                counts.acknowledged++;
                acked.push({ id, name });
              } else counts.badAck++;
            } else {
              counts.non2xx[res.status] = (counts.non2xx[res.status] ?? 0) + 1;
              note('non2xx', `${res.status} ${res.body.slice(0, 200)}`);
            }
          } catch (error) {
            const kind = classify(error);
            if (kind === 'refused') counts.refused++;
            else if (kind === 'timeout') counts.timeouts++;
            else if (kind === 'inFlight') {
              counts.inFlight++;
              note('inFlight', `${error.code ?? ''} ${error.message}`);
            } else {
              const code = error.code ?? error.name ?? 'Error';
              counts.other[code] = (counts.other[code] ?? 0) + 1;
              note('other', `${code} ${error.message}`);
            }
            // Nobody listens (or the socket is broken): do not spin.
            if (kind === 'refused' || kind === 'other') await sleep(50);
          }
        }
      } finally {
        if (agent) agent.destroy();
      }
    };
    const writers = Array.from({ length: o.writers }, (_, w) => writer(w));

    // The faults, from the seeded PRNG, bounded in count.
    const faults = [];
    const skipped = [];
    let reload = null;
    const stoppedByUs = new Set();
    const pickFault = () => (o.fault === 'mixed' ? (random() < 0.5 ? 'kill' : 'stop') : o.fault);
    // The schedule: the faults drawn from the seed, and the one SIGHUP if asked; bounded in length.
    const schedule = o.faultTimesMs.map((at) => ({ at, what: 'fault' }));
    if (o.reloadAtMs !== null) schedule.push({ at: o.reloadAtMs, what: 'reload' });
    // Same instant: the SIGHUP first, and the fault a moment later (two signals at once may merge).
    schedule.sort((a, b) => a.at - b.at || (a.what === 'reload' ? -1 : 1));
    const injector = (async () => {
      let last = -Infinity;
      for (const step of schedule) {
        const at = startedAt + Math.max(step.at, last + MIN_FAULT_GAP_MS);
        if (at >= deadline) break;
        while (Date.now() < at && !stopWriters && !exit && !halting) await sleep(Math.min(50, at - Date.now()));
        if (stopWriters || exit || halting) break;
        last = Date.now() - startedAt;
        if (step.what === 'reload') {
          process.kill(child.pid, 'SIGHUP');
          reload = { atMs: last };
          log(`+${last} ms SIGHUP to the primary (rolling reload)`);
          continue;
        }
        const fault = pickFault();
        // Never the last serving worker(s): a fault that leaves none makes Node's cluster close the
        // listening socket (refused connections) whatever the supervisor does. Booting and stopped
        // workers can always be picked.
        const live = workersOf(child.pid);
        const isServing = (c) => c.state !== 'T' && !stoppedByUs.has(c.pid) && !condemned.has(c.pid) && serving.has(c.pid);
        const servingCount = live.filter(isServing).length;
        const candidates = live.filter(
          (c) => (fault === 'kill' || (c.state !== 'T' && !stoppedByUs.has(c.pid))) && (!isServing(c) || servingCount - 1 >= o.minServing),
        );
        if (!candidates.length) {
          skipped.push({
            atMs: last,
            fault,
            why: live.length ? `only ${servingCount} worker(s) serving (--min-serving ${o.minServing})` : 'no live worker to pick',
          });
          continue;
        }
        const target = candidates[Math.floor(random() * candidates.length)];
        const record = {
          atMs: last,
          fault,
          pid: target.pid,
          index: target.index,
          was: isServing(target)
            ? 'serving'
            : target.state === 'T' || stoppedByUs.has(target.pid)
              ? 'stopped'
              : condemned.has(target.pid)
                ? 'hung'
                : 'booting',
          live: live.length,
          serving: servingCount,
          seen: live.map((c) => `${c.pid}:${c.state}${serving.has(c.pid) ? '+' : ''}`).join(' '),
        };
        if (!signalSame(target.pid, target.startTime, fault === 'kill' ? 'SIGKILL' : 'SIGSTOP')) {
          skipped.push({ atMs: last, fault, why: `pid ${target.pid} was gone` });
          continue;
        }
        if (fault === 'stop') {
          stoppedByUs.add(target.pid);
          later(o.stopMs, () => {
            record.continued = signalSame(target.pid, target.startTime, 'SIGCONT');
            stoppedByUs.delete(target.pid);
          });
        }
        faults.push(record);
        log(
          `+${last} ms ${fault === 'kill' ? 'SIGKILL' : 'SIGSTOP'} worker ${target.index} (pid ${target.pid}, ${record.was}; ${live.length} live, ${servingCount} serving)`,
        );
      }
    })();

    // Until the deadline, or shortly after the primary exited.
    while (Date.now() < deadline && !aborted()) {
      if (exit && Date.now() - exit.at >= AFTER_EXIT_MS) break;
      if (exit && !endedEarly) {
        endedEarly = `the primary exited (code ${exit.code}, signal ${exit.signal}) at +${exit.at - startedAt} ms; writers ended ${AFTER_EXIT_MS} ms later`;
        log(endedEarly);
      }
      if (counts.requests >= o.maxRequests) {
        endedEarly = endedEarly ?? `max requests (${o.maxRequests}) reached`;
        break;
      }
      await sleep(50);
    }
    if (aborted()) endedEarly = endedEarly ?? 'aborted';
    const primaryRunningAtEnd = exit === null;
    const workersAtEnd = primaryRunningAtEnd ? workersOf(child.pid).length : 0;
    stopWriters = true;
    await Promise.all([injector, ...writers]);
    const soakMs = Date.now() - startedAt;
    log(`writers stopped after ${soakMs} ms: ${counts.requests} requests, ${counts.acknowledged} acknowledged`);

    // End the cluster: resume what is stopped, SIGTERM, then SIGKILL the group (bounded).
    for (const t of timers) clearTimeout(t);
    timers.clear();
    let stop = null;
    if (!exit) {
      try {
        process.kill(-child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
      const result = await within(exited, 10_000);
      stop = result ? { code: result.code, signal: result.signal } : { code: null, signal: null, timedOut: true };
    }
    killGroup();
    await within(exited, 5_000);

    // The database, once nothing can write to it any more.
    const client = new Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    let rows;
    let dupNames;
    let dupIds;
    try {
      rows = (await client.query('select id, name from flows where name like $1', [`${NAME_PREFIX}%`])).rows;
      dupNames = (
        await client.query('select name, count(*)::int as n from flows where name like $1 group by name having count(*) > 1', [
          `${NAME_PREFIX}%`,
        ])
      ).rows;
      dupIds = (await client.query('select id, count(*)::int as n from flows group by id having count(*) > 1')).rows;
    } finally {
      await client.end();
    }
    const present = new Map();
    for (const r of rows) present.set(r.id, (present.get(r.id) ?? 0) + 1);
    const ackedIds = new Set(acked.map((a) => a.id));
    const missing = acked.filter((a) => !present.has(a.id));
    const wrongName = acked.filter((a) => present.has(a.id) && !rows.some((r) => r.id === a.id && r.name === a.name));

    const failures =
      counts.refused +
      counts.inFlight +
      counts.timeouts +
      counts.badAck +
      Object.values(counts.non2xx).reduce((a, b) => a + b, 0) +
      Object.values(counts.other).reduce((a, b) => a + b, 0);
    const share = (n) => (counts.requests ? n / counts.requests : 0);
    const haltReason = lines
      .filter((l) => /halting/.test(l))
      .map((l) => l.replace(/^.*?\[Supervisor\]\s*/, ''))
      .slice(0, 3);
    const expectations = [
      {
        name: 'the primary is still running at the end',
        ok: primaryRunningAtEnd,
        detail: primaryRunningAtEnd
          ? `yes, ${workersAtEnd} live worker(s)`
          : `it exited with code ${exit.code}${exit.signal ? ` (signal ${exit.signal})` : ''} at +${exit.at - startedAt} ms of the soak${haltReason.length ? `: ${haltReason.join(' | ')}` : ''}`,
      },
      { name: 'no connection is refused', ok: counts.refused === 0, detail: `${counts.refused} refused` },
      {
        name: 'every acknowledged write is in the database',
        ok: missing.length === 0 && wrongName.length === 0,
        detail: `${missing.length} missing, ${wrongName.length} with another name, of ${counts.acknowledged}`,
      },
      {
        name: 'no write is duplicated',
        ok: dupNames.length === 0 && dupIds.length === 0,
        detail: `${dupNames.length} duplicated name(s), ${dupIds.length} duplicated id(s)`,
      },
      {
        name: `failures stay under ${MAX_FAILURE_SHARE * 100} % of the requests`,
        ok: counts.requests > 0 && share(failures) < MAX_FAILURE_SHARE,
        detail: `${failures} of ${counts.requests} (${(share(failures) * 100).toFixed(2)} %)`,
      },
      {
        name: 'faults were applied',
        ok: faults.length > 0 || o.plannedFaults === 0,
        detail: `${faults.length} of ${o.plannedFaults} planned`,
      },
    ];
    const summary = {
      ok: expectations.every((e) => e.ok),
      seed: o.seed,
      options: {
        seconds: o.seconds,
        workers: o.workers,
        writers: o.writers,
        killEveryMs: o.killEveryMs,
        interval: o.interval,
        fault: o.fault,
        stopMs: o.fault === 'kill' ? null : o.stopMs,
        heartbeatTimeoutMs: o.heartbeatTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        reloadAtMs: o.reloadAtMs,
        connections: o.connections,
        requestTimeoutMs: o.requestTimeoutMs,
        maxRestarts: o.maxRestarts,
        minServing: o.minServing,
        preload: o.preload,
      },
      readyMs,
      soakMs,
      endedEarly,
      requests: counts.requests,
      acknowledged: counts.acknowledged,
      failures: {
        total: failures,
        share: Number(share(failures).toFixed(5)),
        refused: counts.refused,
        inFlight: counts.inFlight,
        inFlightShare: Number(share(counts.inFlight).toFixed(5)),
        timeouts: counts.timeouts,
        badAck: counts.badAck,
        non2xx: counts.non2xx,
        other: counts.other,
        samples: sample,
      },
      primary: {
        pid: child.pid,
        runningAtEnd: primaryRunningAtEnd,
        exit: primaryRunningAtEnd ? null : { code: exit.code, signal: exit.signal, atSoakMs: exit.at - startedAt },
        haltReason,
        workersAtEnd,
        stop,
      },
      faults: {
        planned: o.plannedFaults,
        applied: faults.length,
        kill: faults.filter((f) => f.fault === 'kill').length,
        stop: faults.filter((f) => f.fault === 'stop').length,
        ofBootingWorkers: faults.filter((f) => f.was === 'booting').length,
        skipped,
        list: faults,
      },
      reload,
      database: {
        rows: rows.length,
        acknowledged: ackedIds.size,
        missing: missing.length,
        missingSample: missing.slice(0, 5),
        duplicatedNames: dupNames.length,
        duplicatedIds: dupIds.length,
        committedUnacknowledged: rows.filter((r) => !ackedIds.has(r.id)).length,
      },
      expectations,
      clusterEvents: events.slice(-60),
    };
    for (const e of expectations) log(`${e.ok ? 'ok  ' : 'FAIL'} ${e.name}: ${e.detail}`);
    return summary;
  } finally {
    killGroup();
    process.removeListener('exit', killGroup);
    for (const t of timers) clearTimeout(t);
    if (dir) rmSync(dir, { recursive: true, force: true });
    await db.drop().catch((error) => log(`could not drop the database: ${error.message}`));
  }
}

/** argv → options (kebab-case flags, numbers and booleans parsed); throws on a bad or unknown flag. */
function optionsFromArgv(argv) {
  const numeric = [
    'min-serving',
    'seconds',
    'workers',
    'writers',
    'kill-every-ms',
    'stop-ms',
    'heartbeat-timeout-ms',
    'heartbeat-interval-ms',
    'reload-at-ms',
    'seed',
    'request-timeout-ms',
    'max-restarts',
    'max-requests',
    'ready-timeout-ms',
  ];
  const strings = ['fault', 'connections', 'preload', 'pg', 'interval'];
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { ...Object.fromEntries([...numeric, ...strings].map((n) => [n, { type: 'string' }])), verbose: { type: 'boolean' } },
  });
  const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  const out = {};
  for (const [key, value] of Object.entries(values)) {
    if (numeric.includes(key)) {
      if (!/^\d+$/.test(value)) throw new Error(`--${key} ${value}: expected a whole number`);
      out[camel(key)] = Number(value);
    } else if (key === 'preload') {
      if (!['true', 'false'].includes(value)) throw new Error(`--preload ${value}: expected true or false`);
      out.preload = value === 'true';
    } else out[camel(key)] = value;
  }
  return out;
}

async function main() {
  let options;
  try {
    options = resolveOptions(optionsFromArgv(process.argv.slice(2)));
  } catch (error) {
    process.stderr.write(`chaos-soak: ${error.message}\n`);
    process.exit(2);
  }
  // Ctrl-C or SIGTERM: end early and still clean up (cluster, temp dir, database).
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => abort.abort());
  const { plannedFaults: _planned, faultTimesMs: _times, ...given } = options;
  try {
    const summary = await soak({ ...given, signal: abort.signal });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    process.exitCode = summary.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`chaos-soak: could not run: ${error.message}\n`);
    process.exitCode = 2;
  }
}

module.exports = { soak, resolveOptions, optionsFromArgv, prng, classify, requestId };

if (require.main === module) void main();
