import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreloadConfigError } from '../errors/preload.error';
import { oneShotFromEnv, resolveSupervisorOptions } from './cluster.options';

describe('resolveSupervisorOptions', () => {
  it('defaults: one worker per core, preload on, bounded timeouts', () => {
    expect(resolveSupervisorOptions({}, {})).toEqual({
      workers: availableParallelism(),
      preload: true,
      preloadStart: 'pipelined',
      pipelineConcurrency: Math.max(1, availableParallelism() - 1),
      workerExecArgv: [],
      compileCache: false,
      reloadPreload: false,
      preloadTimeoutMs: 120_000,
      gracefulTimeoutMs: 30_000,
      restartDelayMs: 100,
      maxRestartDelayMs: 10_000,
      runRoot: tmpdir(),
      controlFile: join(process.cwd(), '.nest-preload', 'control.json'),
      timeline: join(process.cwd(), '.nest-preload', 'timeline.json'),
      sweepRoots: [tmpdir()],
      bootTimeoutMs: 60_000,
      drainTimeoutMs: 30_000,
      minUptimeMs: 5_000,
      heavyPreloaderRatio: 1.12,
      preloader: 'serves',
      maxRestarts: 5,
      restartWindowMs: 60_000,
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 10_000,
      maxRequests: 0,
      maxRequestsJitter: 0,
      maxRssMb: 0,
      hooks: {},
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['ON', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['', true],
  ])('NEST_PRELOAD=%p means preload %p', (value, expected) => {
    expect(resolveSupervisorOptions({}, { NEST_PRELOAD: value }).preload).toBe(expected);
  });

  it('preloadStart auto is pipelined at any worker count, with one core left to the preloader by default', () => {
    expect(resolveSupervisorOptions({ workers: availableParallelism() + 6 }, {})).toMatchObject({
      preloadStart: 'pipelined',
      pipelineConcurrency: Math.max(1, availableParallelism() - 1),
    });
    expect(resolveSupervisorOptions({ workers: 64, preloadStart: 'serial' }, {}).preloadStart).toBe('serial');
    expect(resolveSupervisorOptions({ pipelineConcurrency: 3, workerExecArgv: ['--optimize-for-size'] }, {})).toMatchObject({
      pipelineConcurrency: 3,
      workerExecArgv: ['--optimize-for-size'],
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['Yes', true],
    [' on ', true],
    ['false', false],
    ['0', false],
    ['NO', false],
    ['off', false],
    ['', false],
  ])('NEST_PRELOAD_ONE_SHOT=%p means one-shot %p (the same words as NEST_PRELOAD)', (value, expected) => {
    expect(oneShotFromEnv({ NEST_PRELOAD_ONE_SHOT: value })).toBe(expected);
  });

  it('NEST_PRELOAD_ONE_SHOT unset is off; anything else is refused naming the variable and the words it takes', () => {
    expect(oneShotFromEnv({})).toBe(false);
    expect(() => oneShotFromEnv({ NEST_PRELOAD_ONE_SHOT: 'maybe' })).toThrow(
      new PreloadConfigError(
        'Invalid environment variable NEST_PRELOAD_ONE_SHOT="maybe": expected true or false (or 1/0, yes/no, on/off).',
      ),
    );
  });

  it('an explicit option wins over NEST_PRELOAD, and a typo in the variable is still refused', () => {
    expect(() => resolveSupervisorOptions({ preload: true }, { NEST_PRELOAD: 'maybe' })).toThrow(
      'Invalid environment variable NEST_PRELOAD="maybe"',
    );
    expect(resolveSupervisorOptions({ preload: false }, { NEST_PRELOAD: 'true' }).preload).toBe(false);
  });

  it.each([
    [{ workers: -1 }, {}, 'Invalid runCluster option workers=-1: expected a whole number from 1 to 1024, or 0 to run without a cluster.'],
    [{ workers: 1.5 }, {}, 'workers=1.5'],
    // NaN and Infinity are named as they are, not as JSON's null.
    [{ workers: NaN }, {}, 'Invalid runCluster option workers=NaN: expected a whole number from 1 to 1024, or 0 to run without a cluster.'],
    [
      { drainTimeoutMs: Infinity },
      {},
      'Invalid runCluster option drainTimeoutMs=Infinity: expected a positive whole number of milliseconds.',
    ],
    [{ workers: '4' }, {}, 'workers="4"'],
    [{ preloadTimeoutMs: 0 }, {}, 'preloadTimeoutMs=0: expected a positive whole number of milliseconds'],
    [{ gracefulTimeoutMs: -5 }, {}, 'gracefulTimeoutMs=-5'],
    [{ restartDelayMs: 500, maxRestartDelayMs: 100 }, {}, 'maxRestartDelayMs=100: expected at least restartDelayMs (500)'],
    [{ runRoot: 'tmp' }, {}, 'runRoot="tmp": expected an absolute path'],
    [{ worker: 2 }, {}, 'Unknown option "worker"'],
    [{ preloadStart: 'parallel' }, {}, 'Invalid runCluster option preloadStart="parallel": expected "pipelined", "serial" or "auto".'],
    [{ compileCache: 'yes' }, {}, 'Invalid runCluster option compileCache="yes": expected true or false.'],
    [{ pipelineConcurrency: 0 }, {}, 'Invalid runCluster option pipelineConcurrency=0: expected a whole number from 1 to 1024.'],
    [
      { workerExecArgv: '--max-semi-space-size=1' },
      {},
      'Invalid runCluster option workerExecArgv="--max-semi-space-size=1": expected a list of Node flags',
    ],
    [{ workerExecArgv: ['rm -rf'] }, {}, 'Invalid runCluster option workerExecArgv=["rm -rf"]: expected a list of Node flags'],
    [{ maxRestarts: -1 }, {}, 'maxRestarts=-1: expected a whole number, 0 or more'],
    [{ controlFile: 'rel/control.json' }, {}, 'controlFile="rel/control.json": expected an absolute path, or false'],
    [{ timeline: 'timeline.json' }, {}, 'Invalid runCluster option timeline="timeline.json": expected an absolute path, or false.'],
    [{ timeline: true }, {}, 'Invalid runCluster option timeline=true: expected an absolute path, or false.'],
    [{ bootTimeoutMs: 0 }, {}, 'bootTimeoutMs=0: expected a positive whole number of milliseconds'],
    [
      { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500 },
      {},
      'heartbeatTimeoutMs=500: expected more than heartbeatIntervalMs (1000), or 0 to turn the watchdog off',
    ],
    [{ hooks: { onStart: () => undefined } }, {}, 'Unknown option "hooks.onStart"'],
    [{ hooks: { onExit: 'bye' } }, {}, 'Invalid runCluster option hooks.onExit="string": expected a function.'],
    [{}, { NEST_PRELOAD: 'maybe' }, 'Invalid environment variable NEST_PRELOAD="maybe": expected true or false (or 1/0, yes/no, on/off).'],
  ])('refuses %p (env %p) with one clear message', (options, env, message) => {
    const run = () => resolveSupervisorOptions(options, env);
    expect(run).toThrow(PreloadConfigError);
    expect(run).toThrow(message);
  });

  it('the timeline goes beside the control file (given, from the environment, or the default), unless NEST_PRELOAD_TIMELINE_FILE names it', () => {
    expect(resolveSupervisorOptions({ controlFile: '/srv/app/run/control.json' }, {}).timeline).toBe('/srv/app/run/timeline.json');
    expect(resolveSupervisorOptions({}, { NEST_PRELOAD_CONTROL_FILE: '/var/run/np/control.json' }).timeline).toBe(
      '/var/run/np/timeline.json',
    );
    // Two clusters with their own control files in one dir keep their own traces.
    expect(resolveSupervisorOptions({ controlFile: '/srv/app/run/b.json' }, {}).timeline).toBe('/srv/app/run/b.timeline.json');
    // With the control socket off, nothing is written unless asked for.
    expect(resolveSupervisorOptions({ controlFile: false }, {}).timeline).toBe(false);
    expect(resolveSupervisorOptions({ controlFile: false }, { NEST_PRELOAD_TIMELINE_FILE: '/srv/t.json' }).timeline).toBe('/srv/t.json');
    for (const on of ['on', 'TRUE', '1', 'yes'])
      expect(resolveSupervisorOptions({ controlFile: '/srv/c/control.json' }, { NEST_PRELOAD_TIMELINE_FILE: on }).timeline).toBe(
        '/srv/c/timeline.json',
      );
    expect(resolveSupervisorOptions({ controlFile: '/srv/c.json' }, { NEST_PRELOAD_TIMELINE_FILE: 'traces/start.json' }).timeline).toBe(
      join(process.cwd(), 'traces', 'start.json'),
    );
    expect(resolveSupervisorOptions({ timeline: '/srv/t.json' }, { NEST_PRELOAD_TIMELINE_FILE: '/elsewhere.json' }).timeline).toBe(
      '/srv/t.json',
    );
    expect(resolveSupervisorOptions({ timeline: false }, {}).timeline).toBe(false);
    for (const off of ['off', 'OFF', 'false', '0', 'no'])
      expect(resolveSupervisorOptions({}, { NEST_PRELOAD_TIMELINE_FILE: off }).timeline).toBe(false);
    expect(resolveSupervisorOptions({ timeline: '/srv/t.json' }, { NEST_PRELOAD_TIMELINE_FILE: 'off' }).timeline).toBe('/srv/t.json');
  });
});
