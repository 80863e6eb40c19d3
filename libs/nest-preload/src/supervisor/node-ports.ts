import cluster from 'node:cluster';
import type { ChildHandle, ClusterPort, ProcessPort, SupervisorLogger, TimerPort } from './supervisor.ports';

/** The real ports: node:cluster, this process's signals, real timers, stdout/stderr. */
export function nodePorts(): { cluster: ClusterPort; process: ProcessPort; timers: TimerPort; logger: SupervisorLogger } {
  const listeners: Array<[NodeJS.Signals, () => void]> = [];
  const prefix = () => `[nest-preload] primary ${process.pid}:`;
  return {
    cluster: {
      fork(env, execArgv = []): ChildHandle {
        // Settings are global to node:cluster: set them for each fork.
        cluster.setupPrimary({ execArgv: [...process.execArgv, ...execArgv] });
        const worker = cluster.fork(env);
        return {
          pid: worker.process.pid,
          send: (message) => {
            // The channel may already be closed if the child is exiting; that is not an error here.
            if (worker.isConnected()) worker.send(message as object, () => undefined);
          },
          kill: (signal) => {
            const child = worker.process;
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          },
          onMessage: (listener) => worker.on('message', listener),
          onExit: (listener) => worker.on('exit', (code, signal) => listener(code, signal as NodeJS.Signals | null)),
        };
      },
    },
    process: {
      pid: process.pid,
      onSignal(signal, listener) {
        listeners.push([signal, listener]);
        process.on(signal, listener);
      },
      removeSignalListeners() {
        for (const [signal, listener] of listeners.splice(0)) process.off(signal, listener);
      },
    },
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
      now: () => performance.now(),
      wallClock: () => performance.timeOrigin + performance.now(),
    },
    logger: {
      log: (m) => console.log(`${prefix()} ${m}`),
      warn: (m) => console.warn(`${prefix()} ${m}`),
      error: (m) => console.error(`${prefix()} ${m}`),
    },
  };
}
