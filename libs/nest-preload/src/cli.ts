#!/usr/bin/env node
/**
 * `nest-preload`: operate a running cluster through its control socket.
 *
 *   nest-preload status [--json]
 *   nest-preload reload [--preload] [--json]
 *   nest-preload scale N [--json]
 *   nest-preload stop [--json]
 *   nest-preload timeline [--json] [--width N] [--trace PATH]
 *
 * Finds the cluster through its control file: --file PATH, else NEST_PRELOAD_CONTROL_FILE, else
 * ./.nest-preload/control.json. Exit codes: 0 done, 1 no cluster / refused, 2 bad usage.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ControlError, sendControl } from './control/control-client';
import { controlFileFromEnv, timelineBeside, timelineFileFromEnv } from './control/control-paths';
import type { ClusterStatus } from './control/control.protocol';
import { processAlive } from './control/process-alive';
import { formatTable } from './format-table';
import { type ChromeTrace, formatGantt, traceProblem } from './timeline/trace';
import type { StepLine } from './supervisor/supervisor.ports';
import { setExitCode } from './process-exit';

const USAGE = 'usage: nest-preload <status|reload [--preload]|scale N|stop|timeline> [--json] [--file PATH]';

const HELP = `${USAGE}

Talks to a running cluster through its control file.

commands:
  status            the primary, each worker (state, pid, PSS, requests) and where each step ran
  reload            a rolling reload, one worker at a time; --preload writes a new preload first
  scale N           run N workers from now on (1 or more)
  stop              a graceful stop (drain, then exit), and wait for it
  timeline          the last start as a Gantt chart: each process's fork, boot, app build, steps
                    (with their lock waits), hand-over wait and serve; --json prints the trace
                    itself (Chrome trace-event format: open it in ui.perfetto.dev); works after
                    the cluster has stopped too

options:
  --json            machine-readable output
  --file PATH       the cluster's control file (else NEST_PRELOAD_CONTROL_FILE, else
                    ./.nest-preload/control.json in the working directory)
  --trace PATH      timeline: the trace file (else NEST_PRELOAD_TIMELINE_FILE, else beside
                    the control file: timeline.json, or b.timeline.json beside b.json)
  --width N         timeline: columns of the chart (default 60)
  -h, --help        this text

exit codes: 0 done, 1 no cluster reachable or the request was refused, 2 bad usage`;

const duration = (ms: number | null) =>
  ms === null
    ? '-'
    : ms < 1_000
      ? `${ms}ms`
      : ms < 60_000
        ? `${(ms / 1_000).toFixed(1)}s`
        : ms < 3_600_000
          ? `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1_000)}s`
          : `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m`;

/** How the workers redid a step the preloader did not complete: "redone by 4/4", "redone by 3/4, 1 failed", or empty. */
function redone(step: StepLine): string {
  const w = step.workers;
  if (!w) return '';
  const failed = w.ran - w.complete;
  return `redone by ${w.complete}/${w.of}${failed ? `, ${failed} failed` : ''}`;
}

/** The `status` answer as a `pm2 ls`-like table, then the preload's steps. */
export function formatStatus(status: ClusterStatus): string {
  const lines = [
    `cluster: primary pid ${status.pid}, ${status.state}, ${status.workers.filter((w) => w.state === 'ready').length}/${status.target} workers ready, up ${duration(status.uptimeMs)}, primary PSS ${status.primaryPssMb ?? '-'} MB`,
    '',
    formatTable([
      ['INDEX', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'PSS', 'REQUESTS', 'GENERATION', 'LEADER'],
      ...status.workers.map((w) => [
        w.index < 0 ? 'pre' : String(w.index),
        String(w.pid ?? '-'),
        w.state,
        duration(w.uptimeMs),
        String(w.restarts),
        w.pssMb === null ? '-' : `${w.pssMb} MB`,
        String(w.requests),
        w.generation?.slice(0, 8) ?? '-',
        w.leader ? 'yes' : '',
      ]),
    ]),
  ];
  if (status.preload) {
    const running = status.preload.running;
    if (running)
      lines.push(
        '',
        `preload: running for ${duration(running.forMs)} (generation ${running.generation})${status.preload.generation ? `; serving generation ${status.preload.generation}` : ''}`,
      );
    else
      lines.push(
        '',
        `preload: generation ${status.preload.generation ?? '- (off or abandoned)'}, took ${duration(status.preload.durationMs)}`,
      );
    if (status.preload.steps.length) {
      lines.push(
        formatTable([
          ['STEP', 'STATUS', 'RAN IN', 'DURATION', 'CRITICAL', 'WORKERS'],
          ...status.preload.steps.map((s) => [
            s.name,
            s.status,
            s.ranIn ?? '-',
            duration(s.durationMs),
            s.critical ? 'yes' : '',
            redone(s),
          ]),
        ]),
      );
      const redo = status.preload.steps.filter((s) => s.status !== 'complete').map((s) => s.name);
      lines.push(redo.length ? `workers redo: ${redo.join(', ')}` : 'workers redo: nothing');
    }
  }
  return lines.join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = [...argv];
  const take = (flag: string) => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const [, value] = args.splice(i, 2);
    return value;
  };
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  if (args.some((a) => a === '--help' || a === '-h') || (args.length === 1 && args[0] === 'help')) {
    console.log(HELP);
    return 0;
  }
  const file = resolve(take('--file') ?? controlFileFromEnv(env));
  const tracePath = take('--trace');
  const width = take('--width');
  const json = flag('--json');
  const preload = flag('--preload');
  const [command, value, ...rest] = args;
  if (!command) return usage('no command given');
  if (rest.length) return usage(`unexpected ${rest.map((r) => JSON.stringify(r)).join(' ')}`);
  if (command === 'timeline' && value === undefined) {
    if (width !== undefined && !(/^\d+$/.test(width) && Number(width) >= 20 && Number(width) <= 400))
      return usage(`--width needs a whole number of columns from 20 to 400 (got ${JSON.stringify(width)})`);
    // NEST_PRELOAD_TIMELINE_FILE=off turned recording off; a trace an earlier start left is still beside the control file.
    const path = resolve(tracePath ?? (timelineFileFromEnv(env) || timelineBeside(file)));
    return timeline(path, json, width === undefined ? 60 : Number(width));
  }
  try {
    if (command === 'status' && value === undefined) {
      const status = (await sendControl(file, { cmd: 'status' })) as ClusterStatus;
      console.log(json ? JSON.stringify(status, null, 2) : formatStatus(status));
    } else if (command === 'reload' && value === undefined) {
      const result = (await sendControl(file, { cmd: 'reload', ...(preload ? { preload: true } : {}) })) as {
        workers: number;
        queued: boolean;
      };
      console.log(
        json
          ? JSON.stringify(result)
          : `${result.queued ? 'reload queued after the one under way' : `rolling reload of ${result.workers} worker(s) started`}${preload ? ' (new preload generation)' : ''}`,
      );
    } else if (command === 'scale' && value !== undefined) {
      if (!/^\d+$/.test(value) || Number(value) < 1) {
        console.error(`nest-preload: scale needs a whole number of workers, 1 or more (got ${JSON.stringify(value)})`);
        return 2;
      }
      const result = (await sendControl(file, { cmd: 'scale', workers: Number(value) })) as { from: number; to: number };
      console.log(json ? JSON.stringify(result) : `scaled from ${result.from} to ${result.to} worker(s)`);
    } else if (command === 'stop' && value === undefined) {
      const result = (await sendControl(file, { cmd: 'stop' })) as { pid: number };
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && processAlive(result.pid)) await new Promise((r) => setTimeout(r, 100));
      const stopped = !processAlive(result.pid);
      console.log(
        json
          ? JSON.stringify({ stopped, pid: result.pid })
          : stopped
            ? `stopped (primary pid ${result.pid})`
            : `asked to stop; primary pid ${result.pid} still running`,
      );
      return stopped ? 0 : 1;
    } else {
      return usage(
        ['status', 'reload', 'scale', 'stop', 'timeline'].includes(command)
          ? `${command} ${value === undefined ? 'needs a number of workers' : `takes no ${JSON.stringify(value)}`}`
          : `unknown command ${JSON.stringify(command)}`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    console.error(`nest-preload: ${error.message}`);
    return 1;
  }
}

/** Prints the trace at `path` as a chart (or as it is, with --json). */
function timeline(path: string, json: boolean, width: number): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    console.error(
      `nest-preload: no start-up timeline at ${path}${missing ? ' (a cluster writes it as it starts, beside its control file; is the timeline option off — it is with controlFile: false —, or did the cluster run elsewhere? --trace PATH names the file)' : `: ${(error as Error).message}`}`,
    );
    return 1;
  }
  let trace: unknown;
  try {
    trace = JSON.parse(text);
  } catch {
    console.error(`nest-preload: ${path} is not a start-up timeline: it is not valid JSON`);
    return 1;
  }
  const problem = traceProblem(trace);
  if (problem) {
    console.error(`nest-preload: ${path} is not a start-up timeline: ${problem}`);
    return 1;
  }
  console.log(
    json
      ? JSON.stringify(trace, null, 2)
      : `${formatGantt(trace as ChromeTrace, width)}

trace: ${path} (open it in ui.perfetto.dev or chrome://tracing)`,
  );
  return 0;
}

function usage(problem: string): number {
  console.error(`nest-preload: ${problem}\n${USAGE}\n(nest-preload --help says more)`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(setExitCode);
}
