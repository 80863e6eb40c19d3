import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { eventually, freePort, get } from './support/demo-cluster';
import { LIB, usePackedLibrary } from './support/pack';
import { isRoot, servicesRequired } from './support/services';

// A new user's walk: a stock `nest new`-shaped Nest 11 app (test/fixtures/nest-new-app, our own
// template) in a temp dir, dependencies from the npm registry, and the library README's guide "Add
// it to your app, step by step" applied as written — its install command, every block headed with
// a file name, its build and start commands — then run with the guide's WORKERS=2.

const TEMPLATE = resolve(__dirname, 'fixtures/nest-new-app');
const SECTION = '## Add it to your app, step by step';

interface Guide {
  install: string[];
  files: Array<{ path: string; text: string; append: boolean }>;
  build: string;
  start: { env: Record<string, string>; script: string };
  healthPath: string;
}

/** The guide, read out of the README the tarball ships. */
function readGuide(): Guide {
  const readme = readFileSync(join(LIB, 'README.md'), 'utf8');
  const from = readme.indexOf(SECTION);
  expect(from).toBeGreaterThan(0);
  const section = readme.slice(from, readme.indexOf('\n## ', from + SECTION.length));
  const files = [...section.matchAll(/```\w+ file=(\S+)( append)?\n([\s\S]*?)```/g)].map(([, path, append, text]) => ({
    path,
    text,
    append: Boolean(append),
  }));
  const install = /```sh\nnpm i ([^\n]+)\n```/.exec(section)?.[1].split(/\s+/) ?? [];
  const run = /```sh\n(npm run build)\n(\w+)=(\S+) npm run (\S+)\ncurl localhost:\d+(\S+)/.exec(section);
  if (!run) throw new Error('the guide lost its "build and run it" commands');
  return { install, files, build: run[1], start: { env: { [run[2]]: run[3] }, script: run[4] }, healthPath: run[5] };
}

/** What `nest new` writes as package.json (trimmed to what builds and runs the app). */
const stockPackage = {
  name: 'my-nest-app',
  version: '0.0.1',
  private: true,
  license: 'UNLICENSED',
  scripts: { build: 'nest build', start: 'nest start', 'start:prod': 'node dist/main', test: 'jest' },
  dependencies: {
    '@nestjs/common': '^11.0.1',
    '@nestjs/core': '^11.0.1',
    '@nestjs/platform-express': '^11.0.1',
    'reflect-metadata': '^0.2.2',
    rxjs: '^7.8.1',
  },
  devDependencies: {
    '@nestjs/cli': '^11.0.0',
    '@nestjs/testing': '^11.0.1',
    '@types/express': '^5.0.0',
    '@types/jest': '^30.0.0',
    '@types/node': '^22.10.7',
    jest: '^30.0.0',
    'ts-jest': '^29.2.5',
    typescript: '^5.7.3',
  },
  jest: {
    moduleFileExtensions: ['js', 'json', 'ts'],
    rootDir: 'src',
    testRegex: '.*\\.spec\\.ts$',
    transform: { '^.+\\.(t|j)s$': 'ts-jest' },
    testEnvironment: 'node',
  },
};

const npm = (cwd: string, args: string[]) =>
  execFileSync('npm', args, {
    cwd,
    stdio: 'pipe',
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_loglevel: 'error' },
  });

/** Mount points this file made; afterAll unmounts whatever a failed test left. */
const mounts: string[] = [];
const mounted = (path: string) =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
function unmount(path: string): void {
  if (mounted(path) && spawnSync('umount', [path]).status !== 0) spawnSync('umount', ['-l', path]);
}
afterAll(() => {
  for (const path of mounts) unmount(path);
});
// After the unmount above: the app dir can be removed only once nothing is mounted on it.
const packed = usePackedLibrary();

it('the guide is complete: an install command, the files it changes, build and run commands', () => {
  const guide = readGuide();
  expect(guide.install).toEqual(['@lf/nest-preload', '@nestjs/terminus']);
  expect(guide.files.map((f) => `${f.path}${f.append ? ' (append)' : ''}`)).toEqual([
    'src/serve.ts',
    'src/main.ts',
    'src/app.module.ts',
    'src/health.controller.ts',
    'src/startup.steps.ts',
    'src/app.service.ts',
    'src/app.controller.spec.ts',
    '.gitignore (append)',
  ]);
  expect(guide.start).toEqual({ env: { WORKERS: '2' }, script: 'start:prod' });
  expect(guide.healthPath).toBe('/api/health/preload');
});

it("applied to a stock Nest 11 app, it builds, runs 2 workers, answers health under the global prefix, stops on Ctrl-C and exits 0 on a SIGTERM as a container's PID 1", async () => {
  const guide = readGuide();
  const app = packed.tempDir('np-guide-');
  cpSync(TEMPLATE, app, { recursive: true });
  rmSync(join(app, 'README.md'));
  renameSync(join(app, 'gitignore'), join(app, '.gitignore'));
  rmSync(join(app, 'tsconfig.nodenext.json'));
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(stockPackage, null, 2)}\n`);
  npm(app, ['install']);
  // The stock app's own unit spec passes before the guide.
  npm(app, ['test']);

  // Step 1 as written, with the package from the tarball instead of the registry.
  npm(app, ['install', ...guide.install.map((p) => (p === '@lf/nest-preload' ? packed.tarball() : p))]);
  // Steps 2-6: every file block, as written.
  for (const file of guide.files) {
    const target = join(app, file.path);
    if (file.append) appendFileSync(target, `\n${file.text}`);
    else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.text);
    }
  }

  // The unit spec as the guide rewrites it passes: init() ran the step in the test's process.
  expect(npm(app, ['test', '--', '--verbose'])).toBeDefined();

  const stockTsconfig = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8'));
  const nodenext = JSON.parse(readFileSync(join(TEMPLATE, 'tsconfig.nodenext.json'), 'utf8')).compilerOptions;
  // Both module settings `nest new` has written over the 11.x releases: commonjs, then nodenext.
  for (const [variant, compilerOptions] of [
    ['commonjs', stockTsconfig.compilerOptions],
    ['nodenext', { ...stockTsconfig.compilerOptions, ...nodenext }],
  ] as const) {
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions }, null, 2));
    rmSync(join(app, 'tsconfig.tsbuildinfo'), { force: true });
    rmSync(join(app, 'tsconfig.build.tsbuildinfo'), { force: true });
    // Step 7: build and start with the guide's commands.
    npm(app, guide.build.replace(/^npm /, '').split(' '));
    expect([variant, existsSync(join(app, 'dist/main.js'))]).toEqual([variant, true]);
    await runAsTheGuideSays(app, guide, variant, 'terminal');
  }
  // The same build, as deploy/kubernetes runs it: node as PID 1, the app's files read-only (as root,
  // a read-only bind mount; readOnlyRootFilesystem in the recipe) and the control file under /tmp.
  const controlDir = packed.tempDir('np-guide-control-');
  let readOnly = false;
  let mountError = 'not running as root';
  if (isRoot) {
    const bind = spawnSync('mount', ['--bind', app, app], { encoding: 'utf8' });
    if (bind.status === 0) mounts.push(app);
    const ro = bind.status === 0 ? spawnSync('mount', ['-o', 'remount,ro,bind', app], { encoding: 'utf8' }) : null;
    readOnly = ro?.status === 0;
    mountError = `${bind.stderr}${ro?.stderr ?? ''}`.trim();
  }
  try {
    if (!readOnly && servicesRequired) throw new Error(`could not mount the guided app read-only: ${mountError}`);
    if (readOnly) {
      expect(() => writeFileSync(join(app, 'probe'), '')).toThrow(/EROFS/);
      // Left in the read-only working directory, the control file is refused with the fix.
      const refused = spawnSync('node', ['dist/main'], {
        cwd: app,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, WORKERS: '2', PORT: String(await freePort()) },
      });
      expect([refused.status, refused.stderr]).toEqual([
        2,
        expect.stringContaining(`cannot write the control file ${join(app, '.nest-preload/control.json')} (EROFS`),
      ]);
      // The app lives under the temp dir here: the advice names a dir of this user's there instead.
      expect(refused.stderr).toMatch(
        /give the cluster a writable path with NEST_PRELOAD_CONTROL_FILE .*this one is already under the temp dir/,
      );
    }
    await runAsTheGuideSays(app, guide, 'nodenext', 'container', { NEST_PRELOAD_CONTROL_FILE: join(controlDir, 'control.json') });
  } finally {
    unmount(app);
  }

  // Step 6: the control file the primary wrote is ignored by git.
  execFileSync('git', ['init', '-q'], { cwd: app });
  mkdirSync(join(app, '.nest-preload'), { recursive: true });
  writeFileSync(join(app, '.nest-preload/control.json'), '{}');
  expect(spawnSync('git', ['check-ignore', '-q', '.nest-preload/control.json'], { cwd: app }).status).toBe(0);
}, 900_000);

/**
 * Runs the app and checks it serves as the guide says. `how` is how it is started and stopped:
 * 'terminal' is the guide's `npm run` in a shell, stopped with Ctrl-C (SIGINT to the foreground
 * process group: npm, the primary and its workers all get it); 'container' is the script's own
 * command (`node dist/main`) as a container's PID 1, stopped by a SIGTERM to it alone.
 */
async function runAsTheGuideSays(
  app: string,
  guide: Guide,
  variant: string,
  how: 'terminal' | 'container',
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const port = await freePort();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), NO_COLOR: '1', ...guide.start.env, ...extraEnv };
  const command =
    how === 'terminal'
      ? ['npm', 'run', guide.start.script]
      : JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).scripts[guide.start.script].split(' ');
  const proc = spawn(command[0], command.slice(1), { cwd: app, detached: true, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const what = `${variant}, ${how}`;
  let output = '';
  proc.stdout.on('data', (c) => (output += c));
  proc.stderr.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((ok) => proc.on('exit', (code) => ok(code)));
  let failed = true;
  try {
    const deadline = Date.now() + 60_000;
    while (!/cluster ready: 2\/2 workers \(preloaded/.test(output)) {
      if (Date.now() > deadline || proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`the guided app (${what}) did not become ready:\n${output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 6; i++) {
      const health = await get(port, guide.healthPath);
      expect([what, health.status, health.json().status]).toEqual([what, 200, 'ok']);
      const hello = await get(port, '/api');
      expect([what, hello.status, hello.body]).toEqual([what, 200, 'Hello World!']);
    }
    // The liveness route the deploy recipes probe.
    const live = await get(port, '/api/health/live');
    expect([what, live.status, live.json()]).toEqual([what, 200, { status: 'ok' }]);
    // Under the prefix only, as the guide says.
    expect((await get(port, '/health/preload')).status).toBe(404);
    // The guide's `npx nest-preload status`, from the app's own dir.
    const status = JSON.parse(
      execFileSync('npx', ['nest-preload', 'status', '--json'], {
        cwd: app,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, ...extraEnv },
      }),
    );
    expect(status.workers.map((w: { index: number; state: string }) => `${w.index}:${w.state}`)).toEqual(['0:ready', '1:ready']);
    expect(status.preload.steps.map((s: { name: string; status: string; ranIn: string }) => `${s.name}:${s.status}@${s.ranIn}`)).toEqual([
      'greeting:complete@preloader',
    ]);
    // The primary loads nothing of the app: no warning about shutdown hooks, no error.
    expect(output).not.toMatch(/ERROR|enableShutdownHooks/);
    failed = false;
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      if (how === 'terminal') process.kill(-(proc.pid as number), 'SIGINT');
      else process.kill(proc.pid as number, 'SIGTERM');
    }
    // After a failure, nothing may stay running in the app's dir (it may have to be unmounted).
    if (failed) {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 35_000))]);
      try {
        process.kill(-(proc.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  const code = await exited;
  // npm itself always ends by the signal it got, whatever its script did: the primary's own word
  // is its last line. As PID 1, the primary's exit code is the container's.
  if (how === 'container') expect([what, code]).toEqual([what, 0]);
  await eventually(
    () => {
      try {
        process.kill(-(proc.pid as number), 0);
        return false;
      } catch {
        return true; // nothing of the cluster is left behind
      }
    },
    35_000,
    `the ${what} process group to be gone`,
  );
  expect([what, /stopped \(exit code 0\)/.test(output)]).toEqual([what, true]);
}
