import { DemoCluster } from './support/demo-cluster';

// The demo on SQLite (database steps under the host-local file lock, `hosts` unset), started as a
// real cluster once with a Kubernetes pod's environment and once without it.
const WARNING = /This app runs on Kubernetes \(KUBERNETES_SERVICE_HOST is set\).*database step\(s\) (.*) are guarded by a file lock/;

describe('the warning of a host-local lock on a multi-instance platform (real processes)', () => {
  const clusters: DemoCluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.destroy()));
  });

  it('is logged once, by the preloader, under a simulated Kubernetes environment, and not without one', async () => {
    const [pod, laptop] = await Promise.all([
      DemoCluster.start({ workers: 2, preload: true, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } }),
      DemoCluster.start({ workers: 2, preload: true }),
    ]);
    clusters.push(pod, laptop);
    await Promise.all([pod.waitReady(), laptop.waitReady()]);
    const warnings = pod.lines.filter((l) => WARNING.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/WARN \[Preload\]/);
    expect(WARNING.exec(warnings[0])?.[1]).toBe('migrations, superuser, starter_projects, agentic_globals, flows');
    expect(warnings[0]).toContain("hosts: 'multiple', databaseLock: pgAdvisoryLock(");
    expect(laptop.lines.filter((l) => l.includes('file lock that only excludes processes of this host'))).toEqual([]);
    expect([(await pod.stop()).code, (await laptop.stop()).code]).toEqual([0, 0]);
  }, 120_000);
});
