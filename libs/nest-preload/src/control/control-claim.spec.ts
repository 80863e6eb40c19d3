import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimControlFile, type ControlClaim } from './control-claim';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'claim-spec-')), 'sub', 'control.json');
/** A pid that is surely gone: a child that ran and was reaped. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe('claimControlFile', () => {
  it('two claims at the same instant: exactly one wins, the other is told who holds it', async () => {
    const file = fresh();
    const outcomes = await Promise.all([claimControlFile(file), claimControlFile(file), claimControlFile(file)]);
    const won = outcomes.filter((o): o is ControlClaim => typeof o !== 'string');
    expect(won).toHaveLength(1);
    for (const lost of outcomes.filter((o) => typeof o === 'string'))
      expect(lost).toMatch(new RegExp(`another cluster (\\(primary pid ${process.pid}\\) is running|is starting) with the control file`));
    won[0].release();
    expect(existsSync(`${file}.claim`)).toBe(false);
    const again = await claimControlFile(file);
    expect(typeof again).not.toBe('string');
  });

  it('a control file that cannot be written is refused with the fix (a writable NEST_PRELOAD_CONTROL_FILE), not a stack trace', async () => {
    const base = mkdtempSync(join(tmpdir(), 'claim-spec-'));
    writeFileSync(join(base, 'sub'), 'a file where the control dir should be');
    const file = join(base, 'sub', 'run', 'control.json');
    const outcome = await claimControlFile(file);
    expect(outcome).toMatch(
      new RegExp(
        `^cannot write the control file ${file} \\(ENOTDIR: mkdir .*\\): give the cluster a writable path with NEST_PRELOAD_CONTROL_FILE`,
      ),
    );
    // It is under the temp dir already: the advice is not the path that just failed.
    expect(outcome).toContain(`this one is already under the temp dir ${tmpdir()}`);
    expect(outcome).not.toContain('NEST_PRELOAD_CONTROL_FILE=/tmp/nest-preload/control.json');
  });

  it('takes over a claim whose primary is gone', async () => {
    const file = fresh();
    mkdirSync(`${file}.claim`, { recursive: true });
    writeFileSync(join(`${file}.claim`, 'owner'), JSON.stringify({ pid: deadPid(), startTicks: null }));
    const claim = await claimControlFile(file);
    expect(typeof claim).not.toBe('string');
  });

  it('a claim dir without its owner file, just made, counts as a primary that is starting', async () => {
    const file = fresh();
    mkdirSync(`${file}.claim`, { recursive: true });
    expect(await claimControlFile(file)).toMatch(/another cluster is starting with the control file/);
  });
});
