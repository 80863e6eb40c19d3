import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The benchmark's reading of the same output, so the two cannot drift apart.

const { preloaderSettled } = require('../../tools/lib/demo-runner.cjs') as { preloaderSettled(out: string): boolean };

export const DEMO_MAIN = resolve(__dirname, '../../apps/demo/dist/main.js');
export const TRACE_MODULES = resolve(__dirname, 'trace-modules.cjs');

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as sent (not decoded: a gzipped answer stays gzipped). */
  bytes: Buffer;
  body: string;
  json<T = any>(): T;
}

/** A free loopback port (the race until the demo binds it is acceptable for tests). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

/** One GET on a fresh connection, so the kernel spreads requests over the workers. */
export function get(port: number, path: string, timeoutMs = 5_000, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((ok, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close', ...headers }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const body = bytes.toString('utf8');
          ok({ status: res.statusCode ?? 0, headers: res.headers, bytes, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

export interface StartOptions {
  workers: number;
  preload: boolean;
  env?: Record<string, string>;
  /** Extra node flags for the primary (cluster.fork passes them on to the children). */
  nodeArgs?: string[];
  /** Reuse an existing dir (DATA_DIR etc.) — for a second start against the same data. */
  dir?: string;
  /** Another built app to start the same way (default: the demo). */
  main?: string;
}

/** The built demo (or another built app) started as a real cluster on a loopback port, in its own process group. */
export class DemoCluster {
  readonly lines: string[] = [];
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    /** Holds data/ (SQLite, locks), config/ and tmp/ (the cluster's TMPDIR). */
    readonly dir: string,
  ) {
    let partial = '';
    const take = (chunk: Buffer) => {
      partial += chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    proc.stdout?.on('data', take);
    proc.stderr?.on('data', take);
    this.exited = new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal, at: Date.now() })));
  }

  static async start(options: StartOptions): Promise<DemoCluster> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'np-e2e-'));
    for (const sub of ['tmp', 'data', 'config']) mkdirSync(join(dir, sub), { recursive: true });
    const port = await freePort();
    const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), options.main ?? DEMO_MAIN], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        WORKERS: String(options.workers),
        NEST_PRELOAD: String(options.preload),
        DATA_DIR: join(dir, 'data'),
        CONFIG_DIR: join(dir, 'config'),
        TMPDIR: join(dir, 'tmp'),
        HEALTH_DETAILS: 'true',
        GRACEFUL_TIMEOUT_MS: '8000',
        ...options.env,
      },
    });
    return new DemoCluster(proc, port, dir);
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  output(): string {
    return this.lines.join('\n');
  }

  /** Waits for a line matching `pattern`; fails with the output so far. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      for (const line of this.lines) {
        const m = pattern.exec(line);
        if (m) return m;
      }
      if (exited || Date.now() > deadline) {
        throw new Error(
          `no line matching ${pattern} ${exited ? 'before the cluster exited' : `within ${timeoutMs} ms`}; output:\n${this.output().slice(-6000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  waitReady(timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return this.waitFor(/cluster ready: (\d+)\/(\d+) workers \((preloaded|not preloaded)/, timeoutMs);
  }

  get(path: string, headers?: Record<string, string>): Promise<HttpAnswer> {
    return get(this.port, path, undefined, headers);
  }

  /**
   * Waits until the port answers HTTP at all. A standalone app (workers: 0) prints no "cluster ready";
   * Nest logs "successfully started" at the end of init(), before listen() has bound the port.
   */
  waitListening(timeoutMs = 30_000): Promise<void> {
    return eventually(async () => (await this.get('/')).status > 0, timeoutMs, `port ${this.port} answering`);
  }

  /** Asks /health/preload until `count` different worker pids answered (bounded). */
  async healthOfEveryWorker(count: number, maxRequests = 400): Promise<Map<number, { status: number; body: any }>> {
    const seen = new Map<number, { status: number; body: any }>();
    for (let i = 0; i < maxRequests && seen.size < count; i++) {
      const answer = await this.get('/health/preload');
      const body = answer.json();
      seen.set(body.details.preload.pid, { status: answer.status, body });
    }
    if (seen.size < count) throw new Error(`only ${seen.size} of ${count} workers answered /health/preload in ${maxRequests} requests`);
    return seen;
  }

  /**
   * Preload mode: waits until the serving preloader has been weighed once the cluster was ready —
   * kept, or replaced and its old process gone — so what is measured next is the settled tree.
   */
  waitSettled(timeoutMs = 60_000): Promise<void> {
    return eventually(
      async () => preloaderSettled(this.output()),
      timeoutMs,
      'the serving preloader weighed (kept, or replaced and exited)',
    );
  }

  /** Child pids of the primary (read from /proc). */
  childPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === this.pid) pids.push(Number(entry));
      } catch {
        // the process ended while we looked
      }
    }
    return pids;
  }

  /** True while any process of the cluster's process group is alive. */
  groupAlive(): boolean {
    try {
      process.kill(-this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends `signal` to the primary and waits for it to exit. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const sent = Date.now();
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
    const result = await Promise.race([this.exited, new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref())]);
    if (!result) throw new Error(`the cluster did not exit within ${timeoutMs} ms of ${signal}; output:\n${this.output().slice(-4000)}`);
    return { code: result.code, signal: result.signal, ms: result.at - sent };
  }

  waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  /** Kills whatever is left of the group and removes the dir. Safe to call twice. */
  async destroy(): Promise<void> {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // nothing left
    }
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3_000).unref())]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until `check` holds (bounded); a check that throws counts as "not yet", and its last error is reported. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} did not hold within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a process runs (an unreaped zombie does not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** PSS of a process in MB, from /proc/PID/smaps_rollup. */
export function pssMb(pid: number): number {
  return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]) / 1024;
}
