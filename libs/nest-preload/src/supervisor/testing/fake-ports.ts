import { PRELOAD_ENV } from '../../preload.constants';
import type { ChildHandle, ClusterPort, HostPort, ProcessPort, StepLine, SupervisorLogger, TimerPort } from '../supervisor.ports';

/** A forked child the test drives: it records what it was sent and emits what the test says. */
export class FakeChild implements ChildHandle {
  sent: unknown[] = [];
  signals: NodeJS.Signals[] = [];
  exited = false;
  private messageListeners: Array<(m: unknown) => void> = [];
  private exitListeners: Array<(c: number | null, s: NodeJS.Signals | null) => void> = [];
  constructor(
    readonly pid: number,
    readonly env: Record<string, string>,
    readonly execArgv: readonly string[] = [],
  ) {}
  send(message: unknown) {
    if (!this.exited) this.sent.push(message);
  }
  kill(signal: NodeJS.Signals) {
    if (!this.exited) this.signals.push(signal);
  }
  onMessage(l: (m: unknown) => void) {
    this.messageListeners.push(l);
  }
  onExit(l: (c: number | null, s: NodeJS.Signals | null) => void) {
    this.exitListeners.push(l);
  }
  emit(message: unknown) {
    if (!this.exited) for (const l of this.messageListeners) l(message);
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null) {
    if (this.exited) return;
    this.exited = true;
    for (const l of this.exitListeners) l(code, signal);
  }
  get role() {
    return this.env[PRELOAD_ENV.role];
  }
  get index() {
    return this.env[PRELOAD_ENV.workerIndex] === undefined ? null : Number(this.env[PRELOAD_ENV.workerIndex]);
  }
  /** Whether it was asked to drain. */
  get told() {
    return this.sent.some((m) => (m as { type?: string }).type === 'nest-preload:shutdown');
  }
}

export class FakeCluster implements ClusterPort {
  children: FakeChild[] = [];
  private nextPid = 100;
  fork(env: Record<string, string>, execArgv?: readonly string[]) {
    const child = new FakeChild(this.nextPid++, env, execArgv);
    this.children.push(child);
    return child;
  }
  get workers() {
    return this.children.filter((c) => c.role === 'worker');
  }
  /** The last preloader forked. */
  get preloader() {
    return this.children.filter((c) => c.role === 'preloader').pop() as FakeChild;
  }
  get live() {
    return this.children.filter((c) => !c.exited);
  }
}

/** Time the test drives: timers fire in order as it advances. */
export class FakeTimers implements TimerPort {
  private t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private id = 0;
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.id;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  now() {
    return this.t;
  }
  /** Epoch ms: a fixed day plus the driven time. */
  wallClock() {
    return 1_700_000_000_000 + this.t;
  }
  get pending() {
    return this.timers.length;
  }
  advance(ms: number) {
    const until = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = until;
  }
}

export class FakeProcess implements ProcessPort {
  readonly pid = 42;
  listeners = new Map<string, () => void>();
  onSignal(signal: NodeJS.Signals, l: () => void) {
    this.listeners.set(signal, l);
  }
  removeSignalListeners() {
    this.listeners.clear();
  }
  raise(signal: NodeJS.Signals) {
    this.listeners.get(signal)?.();
  }
}

/** An in-memory filesystem: dirs are names in a set. */
export class FakeHost implements HostPort {
  readonly dirs = new Set<string>();
  readonly manifests = new Map<string, StepLine[]>();
  sweep() {
    return [];
  }
  makeClusterDir(runRoot: string, pid: number) {
    const dir = `${runRoot}/nest-preload-${pid}-x`;
    this.dirs.add(dir);
    return dir;
  }
  makeDir(path: string) {
    this.dirs.add(path);
  }
  removeDir(path: string) {
    for (const d of [...this.dirs]) if (d === path || d.startsWith(`${path}/`)) this.dirs.delete(d);
    return null;
  }
  manifestSteps(path: string) {
    return this.manifests.get(path) ?? [];
  }
  pssMb() {
    return 50;
  }
  readonly files = new Map<string, string>();
  writeFile(path: string, text: string) {
    this.files.set(path, text);
    return null;
  }
}

export class FakeLogger implements SupervisorLogger {
  readonly lines: string[] = [];
  log(m: string) {
    this.lines.push(m);
  }
  warn(m: string) {
    this.lines.push(`WARN ${m}`);
  }
  error(m: string) {
    this.lines.push(`ERROR ${m}`);
  }
}
