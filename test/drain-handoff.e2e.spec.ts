import { join } from 'node:path';
import { DemoCluster, eventually, get } from './support/demo-cluster';

const FIXTURE = join(__dirname, 'fixtures', 'configurable-app.cjs');

/**
 * node:cluster's primary accepts each connection and hands it to a worker. A worker that closes its
 * server and exits before the primary has read that close can be handed a connection it never
 * reads: the client then hangs until its timeout. A tiny app (its close takes a millisecond)
 * reloaded over and over while fresh connections keep arriving opens that window wide.
 */
describe('drained workers never strand a connection (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('fresh connections during back-to-back rolling reloads: every one is answered', async () => {
    cluster = await DemoCluster.start({
      workers: 3,
      preload: true,
      main: FIXTURE,
      env: { FIXTURE_OPTIONS: JSON.stringify({ workers: 3 }) },
    });
    const c = cluster;
    await c.waitReady();
    const reloads = 8;
    let sent = 0;
    const failures: string[] = [];
    let done = false;
    const client = async () => {
      while (!done) {
        sent++;
        try {
          const { status } = await get(c.port, '/', 3_000);
          if (status !== 200) failures.push(`status ${status}`);
        } catch (error) {
          failures.push(String((error as Error).message));
        }
      }
    };
    const clients = Array.from({ length: 6 }, client);
    for (let i = 1; i <= reloads; i++) {
      process.kill(c.pid, 'SIGHUP');
      await eventually(() => (c.output().match(/\breload complete in \d+ ms/g) ?? []).length >= i, 30_000, `reload ${i} complete`);
    }
    done = true;
    await Promise.all(clients);
    console.log(`${reloads} rolling reloads of 3 workers: ${sent} fresh connections, ${failures.length} failed`);
    expect({ sent: sent > 200, failures: failures.slice(0, 5), failed: failures.length }).toEqual({ sent: true, failures: [], failed: 0 });
  }, 240_000);
});
