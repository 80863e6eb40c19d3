import { DemoCluster } from './support/demo-cluster';
import { freePort } from './support/demo-cluster';

/**
 * A cluster that cannot start fails about as fast as a plain process: with the database
 * unreachable, the preloader's own attempt is the cluster's, instead of the preloader spending the
 * driver's retries and then every worker spending them again.
 */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// TypeORM's own default is 10 attempts 3 s apart (27 s of retries); 6 attempts 1 s apart keep the
// test short while the retries still dominate, as they do in a real deploy.
const DB_RETRY_ATTEMPTS = '6';

async function timeToExit(
  workers: number,
  url: string,
): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const started = Date.now();
  const c = await DemoCluster.start({ workers, preload: true, env: { DATABASE_URL: url, DB_RETRY_ATTEMPTS } });
  const exit = await c.waitExit();
  const out = { ms: Date.now() - started, code: exit.code, signal: exit.signal, output: c.output() };
  await c.destroy();
  return out;
}

describe('a database unreachable at start (real processes)', () => {
  it("the cluster exits non-zero (3) with the preloader's error, in about the time a standalone process takes", async () => {
    // A port nothing listens on: every connection attempt is refused.
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    const standalone: number[] = [];
    const cluster: number[] = [];
    for (let round = 0; round < 5; round++) {
      // Interleaved, balancedOrder: noise hits both alike.
      for (const mode of round % 2 ? ['cluster', 'standalone'] : ['standalone', 'cluster']) {
        const run = await timeToExit(mode === 'cluster' ? 2 : 0, url);
        expect(run.code === 0 && run.signal === null).toBe(false);
        if (mode === 'cluster') {
          expect(run.code).toBe(3);
          // Whichever fails first says why: the preloader, or a worker building its app beside it.
          expect(run.output).toMatch(
            /(the preloader could not create the app: the app failed to initialize: .*ECONNREFUSED.*; halting|a boot error; halting instead of restarting it in a loop\. Its error: .*ECONNREFUSED)/,
          );
          cluster.push(run.ms);
        } else standalone.push(run.ms);
      }
    }
    // The median of the per-round ratios: each round's pair ran side by side, so a slow moment of
    // the host weighs on both of its runs (a ratio of medians once read 1.22 where rerun read 1.04).
    const ratio = median(cluster.map((ms, i) => ms / standalone[i]));
    console.log(
      `database unreachable: cluster exits after ${median(cluster)} ms, standalone after ${median(standalone)} ms (medians of 5); median per-round ratio ${ratio.toFixed(2)}×`,
    );
    // Before, the workers spent the driver's retries again after the preloader: about 2× (5 s of
    // retries more). What is left is the primary and a preloader booting beside a pipelined worker,
    // a few hundred ms: 1.04-1.05× typically. The bound is the one the library promises; five
    // rounds and a median of paired ratios keep one slow moment of the host from deciding it.
    expect(ratio).toBeLessThanOrEqual(1.1);
  }, 300_000);
});
