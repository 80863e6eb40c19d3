import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from './support/bundles';
import { DemoCluster } from './support/demo-cluster';
import { sqlite, stepRuns } from './support/sqlite';

const STEPS = [
  'migrations',
  'superuser',
  'profile_pictures',
  'bundles',
  'types_cached',
  'starter_projects',
  'agentic_globals',
  'agentic_mcp',
  'flows',
];

/** What a start leaves behind that matters: schema, users, flows, copied files. */
function snapshot(dir: string) {
  return {
    migrations: sqlite(dir, (db) => db.prepare('select name from migrations order by id').all()),
    users: sqlite(dir, (db) => db.prepare('select username, is_superuser from users order by username').all()),
    flows: sqlite(dir, (db) => db.prepare('select id, name, is_starter from flows order by id').all()),
    pictures: readdirSync(join(dir, 'config', 'profile_pictures'), { recursive: true })
      .map(String)
      .sort(),
  };
}

describe('SIGTERM at every step boundary and mid-migration: the next start converges (real processes)', () => {
  let bundle: string;
  let flows: string;
  let clean: ReturnType<typeof snapshot>;
  const env = () => ({ BUNDLE_URLS: bundle, FLOWS_PATH: flows });

  beforeAll(async () => {
    bundle = await makeBundle(20);
    flows = mkdtempSync(join(tmpdir(), 'np-conv-flows-'));
    writeFileSync(join(flows, 'one.json'), JSON.stringify({ name: 'One', data: { nodes: [{ id: 'a', type: 'TextInput' }], edges: [] } }));
    const reference = await DemoCluster.start({ workers: 1, preload: true, env: env() });
    await reference.waitReady();
    expect((await reference.stop()).code).toBe(0);
    clean = snapshot(reference.dir);
    await reference.destroy();
  });

  /** Interrupts a start where `interrupt` says, then starts again normally and compares with a clean run. */
  async function interruptedThenRestarted(extra: Record<string, string>, waitFor: RegExp, unfinished: string) {
    const first = await DemoCluster.start({ workers: 1, preload: true, env: { ...env(), ...extra } });
    try {
      await first.waitFor(waitFor, 30_000);
      expect((await first.stop('SIGTERM')).code).toBe(0);
      // It really stopped mid-way: that step never completed (before the migrations, there is no table yet).
      const completed = (() => {
        try {
          return stepRuns(first.dir);
        } catch {
          return {};
        }
      })();
      expect(completed[unfinished]).toBeUndefined();
      const second = await DemoCluster.start({ workers: 1, preload: true, dir: first.dir, env: env() });
      await second.waitReady();
      expect((await second.stop()).code).toBe(0);
      expect(snapshot(first.dir)).toEqual(clean);
    } finally {
      await first.destroy();
    }
  }

  it.each(STEPS)('SIGTERM while the preloader is in step %s', async (step) => {
    await interruptedThenRestarted({ DEMO_STEP_DELAY_MS: `${step}@preloader:20000` }, new RegExp(`step ${step} started`), step);
  });

  it('SIGTERM in the middle of a migration (inside its transaction)', async () => {
    await interruptedThenRestarted({ DEMO_MIGRATION_DELAY_MS: '20000' }, /migration Flows1700000000001 in progress/, 'migrations');
  });
});
