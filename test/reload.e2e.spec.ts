import { DemoCluster, eventually } from './support/demo-cluster';
import { stepRuns } from './support/sqlite';

const autocannon = require('autocannon') as (
  opts: Record<string, unknown>,
) => Promise<{ requests: { total: number }; errors: number; timeouts: number; non2xx: number; '2xx': number }>;

/** Load from a generator on loopback for `seconds`, while `during` runs. */
async function underLoad(port: number, seconds: number, during: () => Promise<void>) {
  const load = autocannon({ url: `http://127.0.0.1:${port}/api/v1/all`, connections: 8, duration: seconds });
  await new Promise((r) => setTimeout(r, 1_000));
  await during();
  return load;
}

const pidsOf = (c: DemoCluster) => new Set(c.childPids());

describe('rolling reload on SIGHUP (real processes, under load)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('replaces every worker one at a time with zero failed requests', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const before = pidsOf(cluster);
    const c = cluster;
    const result = await underLoad(c.port, 8, async () => {
      process.kill(c.pid, 'SIGHUP');
      await c.waitFor(/\breload complete in \d+ ms/, 20_000);
    });
    const after = pidsOf(c);
    expect(after.size).toBe(2);
    expect([...after].filter((pid) => before.has(pid))).toEqual([]);
    console.log(
      `SIGHUP under load: ${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`,
    );
    expect(result.requests.total).toBeGreaterThan(100);
    expect({ errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts }).toEqual({ errors: 0, non2xx: 0, timeouts: 0 });
    expect(c.output()).toMatch(/worker 0 replaced: pid \d+ → \d+; draining the old one/);
    expect(c.output()).toMatch(/worker 1 replaced: pid \d+ → \d+; draining the old one/);
  });

  it('with RELOAD_PRELOAD: a new generation is preloaded while the replacements boot, with zero failed requests', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { RELOAD_PRELOAD: 'true', PRELOAD_START: 'pipelined' } });
    await cluster.waitReady();
    const c = cluster;
    const firstGeneration = (await c.get('/health/preload')).json().details.preload.generation;
    const result = await underLoad(c.port, 8, async () => {
      process.kill(c.pid, 'SIGHUP');
      await c.waitFor(/\breload complete in \d+ ms \(generation [0-9a-f-]+\)/, 30_000);
    });
    expect({ errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts }).toEqual({ errors: 0, non2xx: 0, timeouts: 0 });
    console.log(`SIGHUP with a new preload under load: ${result.requests.total} requests, ${result.errors} errors`);
    expect(stepRuns(c.dir).types_cached).toEqual({ preloader: 2 });
    const generations = new Set([...(await c.healthOfEveryWorker(2)).values()].map((w) => w.body.details.preload.generation));
    expect(generations.size).toBe(1);
    expect(generations.has(firstGeneration)).toBe(false);
    // The new generation's preloader replaced worker 0 and serves; the other worker started from its hand-over.
    expect(c.output()).toMatch(/worker 0 replaced: pid \d+ → \d+/);
    // The first generation's dir went with its last worker; the cluster dir holds only the new one.
    await eventually(
      () =>
        c
          .output()
          .split('\n')
          .filter((l) => /\(replaced\)/.test(l)).length === 2,
      10_000,
      'both old workers exited',
    );
  });

  it('two SIGHUPs 10 ms apart: the second is queued, not interleaved, and nothing fails', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    const before = pidsOf(c);
    const result = await underLoad(c.port, 10, async () => {
      process.kill(c.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 10));
      process.kill(c.pid, 'SIGHUP');
      await eventually(() => (c.output().match(/\breload complete in/g) ?? []).length === 2, 30_000, 'two reloads completed');
    });
    expect(c.output()).toContain('SIGHUP received during a reload: queued; it runs once this reload is complete');
    expect({ errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts }).toEqual({ errors: 0, non2xx: 0, timeouts: 0 });
    expect((c.output().match(/replaced: pid/g) ?? []).length).toBe(4);
    expect([...pidsOf(c)].filter((pid) => before.has(pid))).toEqual([]);
  });
});
