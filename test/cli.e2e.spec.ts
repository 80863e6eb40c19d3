import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { alive, DemoCluster, eventually, pssMb } from './support/demo-cluster';
import { isRoot } from './support/services';

// Acting as another user needs root; elsewhere this one test is a declared skip (see services.ts).
const itAsRoot = isRoot ? it : it.skip;

const autocannon = require('autocannon') as (
  opts: Record<string, unknown>,
) => Promise<{ requests: { total: number }; errors: number; timeouts: number; non2xx: number }>;

const CLI = resolve(__dirname, '../libs/nest-preload/dist/cli.js');

/** Runs the CLI in the cluster's dir (where its control file is). */
function cli(c: DemoCluster, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: c.dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Sends raw lines to the control socket and collects what comes back until it closes or settles. */
function raw(socketPath: string, payload: string | Buffer): Promise<string> {
  return new Promise((ok) => {
    const socket = createConnection(socketPath);
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('connect', () => socket.write(payload));
    socket.on('error', () => ok(got));
    socket.on('close', () => ok(got));
    setTimeout(() => socket.destroy(), 1_000);
  });
}

describe('the nest-preload CLI against a running cluster (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('--help lists the commands on stdout and exits 0; bad usage prints the usage line on stderr and exits 2', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect([help.status, help.stderr]).toEqual([0, '']);
    for (const line of [
      /^ {2}status /m,
      /^ {2}reload /m,
      /^ {2}scale N /m,
      /^ {2}stop /m,
      /--file PATH/,
      /NEST_PRELOAD_CONTROL_FILE/,
      /exit codes: 0/,
    ])
      expect(help.stdout).toMatch(line);
    const bad = spawnSync(process.execPath, [CLI, 'restart'], { encoding: 'utf8' });
    expect([bad.status, bad.stdout, bad.stderr.trim().split('\n')]).toEqual([
      2,
      '',
      [
        'nest-preload: unknown command "restart"',
        expect.stringMatching(/^usage: nest-preload <status\|reload/),
        '(nest-preload --help says more)',
      ],
    ]);
    expect(spawnSync(process.execPath, [CLI, 'scale'], { encoding: 'utf8' }).stderr).toContain(
      'nest-preload: scale needs a number of workers',
    );
  });

  it('status during the first preload says it is running, and the states of the preloader and the waiting worker', async () => {
    const gate = join(require('node:os').tmpdir(), `np-gate-cli-${process.pid}-${Date.now()}`);
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_STEP_GATE: `types_cached@preloader:${gate}` } });
    const c = cluster;
    await c.waitFor(/step types_cached started/);
    await c.waitFor(/app built; waiting for the preload hand-over/);
    await eventually(() => cli(c, ['status', '--json']).code === 0, 10_000, 'the control socket answers');
    const status = JSON.parse(cli(c, ['status', '--json']).stdout);
    expect(status.state).toBe('preloading');
    expect(status.workers.map((w: { index: number; state: string }) => `${w.index}:${w.state}`)).toEqual(['0:preloading', '1:waiting']);
    expect(cli(c, ['status']).stdout).toMatch(/preload: running for \d/);
    require('node:fs').writeFileSync(gate, '');
    await c.waitReady();
    expect(cli(c, ['status']).stdout).toMatch(/preload: generation [0-9a-f-]+, took/);
  });

  it('status shows the workers as they are: live pids, PSS read from /proc, the preload steps', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const { code, stdout } = cli(cluster, ['status', '--json']);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.pid).toBe(cluster.pid);
    expect(status.workers.map((w: { index: number; state: string }) => `${w.index}:${w.state}`)).toEqual(['0:ready', '1:ready']);
    expect(new Set(status.workers.map((w: { pid: number }) => w.pid))).toEqual(new Set(cluster.childPids()));
    for (const w of status.workers) {
      expect(alive(w.pid)).toBe(true);
      expect(Math.abs(w.pssMb - pssMb(w.pid))).toBeLessThan(10);
    }
    expect(status.workers.filter((w: { leader: boolean }) => w.leader)).toHaveLength(1);
    // The root README's command inside this repository (the workspace's bin link is not usable there).
    const viaScript = spawnSync(
      'npm',
      ['run', '-s', 'nest-preload', '--', 'status', '--json', '--file', join(cluster.dir, '.nest-preload/control.json')],
      { cwd: resolve(__dirname, '..'), encoding: 'utf8', timeout: 60_000 },
    );
    expect([viaScript.status, JSON.parse(viaScript.stdout).pid]).toEqual([0, cluster.pid]);
    expect(status.preload.steps.map((s: { name: string; status: string; ranIn: string }) => `${s.name}:${s.status}@${s.ranIn}`)).toEqual(
      [
        'migrations',
        'superuser',
        'profile_pictures',
        'bundles',
        'types_cached',
        'starter_projects',
        'agentic_globals',
        'agentic_mcp',
        'flows',
      ].map((n) => `${n}:complete@preloader`),
    );
    const text = cli(cluster, ['status']).stdout;
    expect(text).toMatch(/^INDEX +PID +STATE +UPTIME +RESTARTS +PSS +REQUESTS +GENERATION +LEADER$/m);
    expect(text).toMatch(/^STEP +STATUS +RAN IN +DURATION +CRITICAL +WORKERS$/m);
    expect(text).toContain('workers redo: nothing');
  });

  it('status after a best-effort step failed in the preloader and every worker redid it: "redone by 4/4", not only "failed"', async () => {
    cluster = await DemoCluster.start({
      workers: 4,
      preload: true,
      env: { PRELOADER: 'exits', DEMO_FAIL_STEPS: 'profile_pictures@preloader' },
    });
    await cluster.waitReady();
    const status = JSON.parse(cli(cluster, ['status', '--json']).stdout);
    const pictures = status.preload.steps.find((s: { name: string }) => s.name === 'profile_pictures');
    expect(pictures).toMatchObject({ status: 'failed', ranIn: 'preloader', workers: { of: 4, ran: 4, complete: 4 } });
    expect(status.preload.steps.filter((s: { workers?: unknown }) => s.workers)).toHaveLength(1);
    expect(cli(cluster, ['status']).stdout).toMatch(/^profile_pictures +failed +preloader +\S+ +redone by 4\/4$/m);
  });

  it('reload: every worker replaced with zero failed requests under load', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    const before = c.childPids();
    const load = autocannon({ url: `http://127.0.0.1:${c.port}/api/v1/all`, connections: 8, duration: 7 });
    await new Promise((r) => setTimeout(r, 1_000));
    const reload = await new Promise<{ code: number | null; out: string }>((ok) => {
      const child = spawn(process.execPath, [CLI, 'reload'], { cwd: c.dir });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => ok({ code, out }));
    });
    expect(reload).toEqual({ code: 0, out: 'rolling reload of 2 worker(s) started\n' });
    await c.waitFor(/\breload complete in \d+ ms/, 20_000);
    const result = await load;
    expect({ errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts }).toEqual({ errors: 0, non2xx: 0, timeouts: 0 });
    console.log(`CLI reload under load: ${result.requests.total} requests, 0 failed`);
    expect(c.childPids().filter((pid) => before.includes(pid))).toEqual([]);
  });

  it('scale 3, then scale 1; stop exits 0 and leaves nothing behind', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    expect(cli(c, ['scale', '3']).stdout).toBe('scaled from 2 to 3 worker(s)\n');
    await eventually(
      () => JSON.parse(cli(c, ['status', '--json']).stdout).workers.filter((w: { state: string }) => w.state === 'ready').length === 3,
      20_000,
      'three ready workers',
    );
    expect(cli(c, ['scale', '1']).stdout).toBe('scaled from 3 to 1 worker(s)\n');
    await eventually(() => c.childPids().length === 1, 20_000, 'one worker left');
    expect(cli(c, ['scale', '0'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('scale needs a whole number of workers, 1 or more'),
    });
    // Asynchronously, as from an operator's shell: the primary, our child, must be reaped meanwhile.
    const stop = await new Promise<{ code: number | null; stdout: string }>((ok) => {
      const child = spawn(process.execPath, [CLI, 'stop'], { cwd: c.dir });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('exit', (code) => ok({ code, stdout }));
    });
    expect(stop).toEqual({ code: 0, stdout: `stopped (primary pid ${c.pid})\n` });
    expect((await c.waitExit()).code).toBe(0);
    await eventually(() => !c.groupAlive(), 5_000, 'no process left');
    expect(existsSync(join(c.dir, '.nest-preload', 'control.json'))).toBe(false);
    expect(cli(c, ['status'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no cluster is running here') });
  });

  itAsRoot("the control socket is the owner's only, and garbage or oversized input does not harm the primary", async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    const file = JSON.parse(readFileSync(join(c.dir, '.nest-preload', 'control.json'), 'utf8'));
    expect(statSync(file.socket).mode & 0o777).toBe(0o600);
    expect(statSync(join(file.socket, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(join(c.dir, '.nest-preload', 'control.json')).mode & 0o777).toBe(0o600);
    // Another user, with a self-contained script (the repo itself may not be readable to it): the
    // socket refuses the connection, whatever the user can see of the control file.
    const other = spawnSync(
      process.execPath,
      [
        '-e',
        `require('node:net').connect(${JSON.stringify(file.socket)}).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`,
      ],
      { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 10_000 },
    );
    expect(other.stdout.trim()).toBe('EACCES');
    expect(await raw(file.socket, 'not json\n')).toBe('{"v":1,"id":null,"ok":false,"error":"not valid JSON"}\n');
    expect(await raw(file.socket, '{"v":1,"id":7,"cmd":"rm -rf /"}\n')).toContain(
      '"error":"unknown command \\"rm -rf /\\": use status, reload, scale or stop"',
    );
    expect(await raw(file.socket, '{"v":2,"id":1,"cmd":"status"}\n')).toContain('unsupported protocol version 2');
    expect(await raw(file.socket, '{"v":1,"id":1,"cmd":"scale","workers":"9"}\n')).toContain(
      '"workers\\" must be a whole number from 1 to 1024',
    );
    expect(await raw(file.socket, Buffer.alloc(100_000, 'x'))).toContain('request longer than 16384 bytes');
    const status = cli(c, ['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).workers).toHaveLength(2);
  });

  it('a stale control file after kill -9 of the primary is detected, and replaced at the next start', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const dir = cluster.dir;
    process.kill(cluster.pid, 'SIGKILL');
    await cluster.waitExit();
    await eventually(() => cluster?.childPids().length === 0, 5_000, 'the workers are gone');
    const stale = cli(cluster, ['status']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/the control file .* is stale: its primary \(pid \d+\) is not running/);
    cluster = await DemoCluster.start({ workers: 2, preload: true, dir });
    await cluster.waitReady();
    expect(cluster.output()).toMatch(/replacing the stale control file/);
    expect(JSON.parse(cli(cluster, ['status', '--json']).stdout).pid).toBe(cluster.pid);
  });

  it('a second cluster with the same control file is refused while the first runs', async () => {
    cluster = await DemoCluster.start({ workers: 1, preload: true });
    await cluster.waitReady();
    const second = await DemoCluster.start({ workers: 1, preload: true, dir: cluster.dir });
    try {
      expect((await second.waitExit()).code).toBe(2);
      expect(second.output()).toMatch(/another cluster \(primary pid \d+\) is running with the control file/);
      // The refusal says how to run two.
      expect(second.output()).toMatch(/give this one another controlFile \(or NEST_PRELOAD_CONTROL_FILE\)/);
    } finally {
      await second.destroy().catch(() => undefined);
    }
  });

  it('two clusters from one directory, each with its own NEST_PRELOAD_CONTROL_FILE: both run, and the CLI reaches each by its file', async () => {
    cluster = await DemoCluster.start({ workers: 1, preload: true, env: { NEST_PRELOAD_CONTROL_FILE: 'blue.json' } });
    await cluster.waitReady();
    const green = await DemoCluster.start({
      workers: 1,
      preload: true,
      dir: cluster.dir,
      env: { NEST_PRELOAD_CONTROL_FILE: 'green.json' },
    });
    try {
      await green.waitReady();
      for (const [file, c] of [
        ['blue.json', cluster],
        ['green.json', green],
      ] as const) {
        const status = cli(c, ['status', '--json', '--file', file]);
        expect([file, status.code]).toEqual([file, 0]);
        expect(JSON.parse(status.stdout).pid).toBe(c.pid);
      }
      // And the CLI honours the variable the same way runCluster does.
      const viaEnv = spawnSync(process.execPath, [CLI, 'status', '--json'], {
        cwd: cluster.dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NEST_PRELOAD_CONTROL_FILE: 'green.json' },
      });
      expect(JSON.parse(viaEnv.stdout).pid).toBe(green.pid);
      expect((await cluster.get('/health/preload')).status).toBe(200);
      expect((await green.get('/health/preload')).status).toBe(200);
    } finally {
      await green.destroy().catch(() => undefined);
    }
  });
});
