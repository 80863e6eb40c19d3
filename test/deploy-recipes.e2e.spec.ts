import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_SUPERVISOR_OPTIONS } from '../libs/nest-preload/src/supervisor/cluster.options';
import { servicesRequired } from './support/services';

// The recipes in deploy/: the Kubernetes manifests against the API schemas (tools/check-k8s.mjs,
// offline), the Compose file against Compose's schema (docker-compose config), and what they must
// agree on with the library and the integration guide: probe paths, grace periods, the one-shot
// entry, node (not npm) as PID 1, a writable control file.

const ROOT = resolve(__dirname, '..');
const K8S = join(ROOT, 'deploy/kubernetes');
const COMPOSE = join(ROOT, 'deploy/compose.yaml');
const CHECK = join(ROOT, 'tools/check-k8s.mjs');
const GRACEFUL_S = DEFAULT_SUPERVISOR_OPTIONS.gracefulTimeoutMs / 1000;
/** The longest first start before a worker listens: a preload that times out, then a worker's full boot. */
const FIRST_LISTEN_S = (DEFAULT_SUPERVISOR_OPTIONS.preloadTimeoutMs + DEFAULT_SUPERVISOR_OPTIONS.bootTimeoutMs) / 1000;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const manifests: any[] = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => d.toJS()));
const ofKind = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect([kind, found.length]).toEqual([kind, 1]);
  return found[0];
};
const envOf = (container: any) => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));

/** The guide's routes: the global prefix its serve.ts sets and the health controller's paths. */
function guideRoutes(): { readiness: string; liveness: string } {
  const readme = readFileSync(join(ROOT, 'libs/nest-preload/README.md'), 'utf8');
  const prefix = /app\.setGlobalPrefix\('([^']+)'\)/.exec(readme)?.[1];
  const controller = /```ts file=src\/health\.controller\.ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const base = /@Controller\('([^']+)'\)/.exec(controller)?.[1];
  const routes = [...controller.matchAll(/@Get\('([^']+)'\)/g)].map((m) => m[1]);
  expect([prefix, base, routes]).toEqual(['api', 'health', ['preload', 'live']]);
  return { readiness: `/${prefix}/${base}/preload`, liveness: `/${prefix}/${base}/live` };
}

function runCheck(files: string[] = []): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [CHECK, ...files], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe('the Kubernetes manifests', () => {
  it('pass the API schemas and name no field the schemas do not know (tools/check-k8s.mjs)', () => {
    const { status, out } = runCheck();
    expect(out).toContain('all manifests valid');
    expect(out.match(/^ok /gm)).toHaveLength(manifests.length);
    expect(status).toBe(0);
  });

  it('the check fails, naming file and path, on a misspelt field, a wrong type, a missing required field and an unknown kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-k8s-'));
    try {
      const deployment = readFileSync(join(K8S, 'deployment.yaml'), 'utf8');
      const cases: Array<[string, string, RegExp]> = [
        ['typo.yaml', deployment.replace('readinessProbe:', 'readinesProbe:'), /containers\/0\/readinesProbe: no such field/],
        [
          'type.yaml',
          deployment.replace('terminationGracePeriodSeconds: 45', 'terminationGracePeriodSeconds: "45"'),
          /terminationGracePeriodSeconds: must be integer/,
        ],
        [
          'required.yaml',
          deployment.replace('- name: app\n          image:', '- image:'),
          /containers\/0: must have required property 'name'/,
        ],
        ['kind.yaml', deployment.replace('kind: Deployment', 'kind: Deploymnet'), /no schema for apps\/v1 Deploymnet/],
        [
          'resource.yaml',
          `${deployment.replace('memory: 512Mi', 'memroy: 512Mi')}\n---\n`,
          /resources\/requests\/memroy: not a resource name/,
        ],
      ];
      for (const [file, text, expected] of cases) {
        expect(text).not.toBe(deployment);
        writeFileSync(join(dir, file), text);
        const { status, out } = runCheck([join(dir, file)]);
        expect([file, status]).toEqual([file, 1]);
        expect(out).toMatch(new RegExp(`FAIL .*${file} #1 .*${expected.source}`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('agree with the guide and the library: probes, grace period, rollout, PID 1, a writable control file', () => {
    const { readiness, liveness } = guideRoutes();
    const deployment = ofKind('Deployment');
    const pod = deployment.spec.template.spec;
    const [app] = pod.containers;
    const port = app.ports.find((p: any) => p.name === 'http');
    expect(port).toBeDefined();
    expect(envOf(app).PORT).toBe(String(port.containerPort));
    expect(app.readinessProbe.httpGet).toEqual({ path: readiness, port: 'http' });
    expect(app.livenessProbe.httpGet).toEqual({ path: liveness, port: 'http' });
    expect(app.startupProbe.httpGet).toEqual({ path: liveness, port: 'http' });
    // The startup probe waits out a preload that times out and the workers' full start-up after it.
    expect(app.startupProbe.periodSeconds * app.startupProbe.failureThreshold).toBeGreaterThan(FIRST_LISTEN_S);
    // Node as PID 1: npm would not pass SIGTERM on, and no drain would happen.
    expect(app.command).toEqual(['node', 'dist/main.js']);
    // preStop, then the cluster's drain, inside the grace period (counted from preStop's start).
    const preStop = app.lifecycle.preStop.sleep.seconds;
    expect(preStop).toBeGreaterThanOrEqual(5);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + GRACEFUL_S);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    // The root filesystem is read-only, so the control file and the run dirs live on a mounted emptyDir.
    expect(app.securityContext.readOnlyRootFilesystem).toBe(true);
    const tmp = app.volumeMounts.find((m: any) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir).toEqual({});
    expect(envOf(app).NEST_PRELOAD_CONTROL_FILE).toMatch(/^\/tmp\//);
    expect(Number(envOf(app).WORKERS)).toBe(Number(app.resources.requests.cpu));
    // Selectors: the template's labels, the Service's target port by name, the PDB.
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const service = ofKind('Service');
    expect(service.spec.selector).toEqual(labels);
    expect(service.spec.ports[0].targetPort).toBe('http');
    const pdb = ofKind('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.maxUnavailable).toBeLessThan(deployment.spec.replicas);
    // The Job's pod is selected by none of them: a PDB over a Job's pod blocks every node drain,
    // and the Service would route to a pod that serves nothing.
    const jobLabels = ofKind('Job').spec.template.metadata.labels;
    for (const selector of [deployment.spec.selector.matchLabels, service.spec.selector, pdb.spec.selector.matchLabels])
      expect(selects(selector, jobLabels)).toBe(false);
  });

  it('the Job runs the same image and entry in one-shot mode, once', () => {
    const [app] = ofKind('Deployment').spec.template.spec.containers;
    const job = ofKind('Job');
    const [preload] = job.spec.template.spec.containers;
    expect(preload.image).toBe(app.image);
    expect(preload.command).toEqual(app.command);
    expect(envOf(preload).NEST_PRELOAD_ONE_SHOT).toBe('true');
    expect(envOf(preload).DATABASE_URL).toEqual(envOf(app).DATABASE_URL);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // A configuration error fails the Job at once instead of being retried.
    expect(job.spec.podFailurePolicy.rules).toContainEqual({
      action: 'FailJob',
      onExitCodes: { containerName: preload.name, operator: 'In', values: [2] },
    });
    expect(job.spec.template.spec.volumes).toEqual(ofKind('Deployment').spec.template.spec.volumes);
  });
});

const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const hasCompose = compose.status === 0;
if (!hasCompose && servicesRequired)
  throw new Error(
    'NEST_PRELOAD_REQUIRE_SERVICES is set and docker-compose is not installed: the Compose file would go unchecked (apt-get install docker-compose)',
  );
if (!hasCompose) console.warn('\n[e2e] docker-compose is not installed: the check of deploy/compose.yaml against its schema is SKIPPED.\n');

(hasCompose ? describe : describe.skip)('the Compose file', () => {
  const config = (file: string) =>
    spawnSync('docker-compose', ['-f', file, 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, APP_IMAGE: '' } });

  it("passes Compose's schema; a misspelt option fails it", () => {
    const ok = config(COMPOSE);
    expect([ok.status, ok.stderr]).toEqual([0, '']);
    const dir = mkdtempSync(join(tmpdir(), 'np-compose-'));
    try {
      writeFileSync(join(dir, 'compose.yaml'), readFileSync(COMPOSE, 'utf8').replace('stop_grace_period:', 'stop_grace_periods:'));
      const bad = config(join(dir, 'compose.yaml'));
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain("Unsupported config option for services.api: 'stop_grace_periods'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('three replicas start after the one-shot preload succeeded, on one PostgreSQL, node as PID 1, a grace above the drain', () => {
    const { readiness } = guideRoutes();
    const { services } = parse(execFileSync('docker-compose', ['-f', COMPOSE, 'config'], { cwd: ROOT, encoding: 'utf8' }));
    const { api, preload, db } = services;
    expect(api.deploy.replicas).toBe(3);
    // No fixed host port: replicas would clash on it. The container port is the app's PORT.
    expect(
      api.ports.map((p: any) => (typeof p === 'string' ? p : p.published === undefined ? String(p.target) : `${p.published}:${p.target}`)),
    ).toEqual([api.environment.PORT]);
    expect(api.depends_on).toMatchObject({
      db: { condition: 'service_healthy' },
      preload: { condition: 'service_completed_successfully' },
    });
    expect(api.environment.NEST_PRELOAD_CONTROL_FILE).toMatch(/^\/tmp\//);
    expect(preload.environment.NEST_PRELOAD_ONE_SHOT).toBe('true');
    expect(preload.image).toBe(api.image);
    expect(preload.environment.DATABASE_URL).toBe(api.environment.DATABASE_URL);
    expect(new URL(api.environment.DATABASE_URL).hostname).toBe('db');
    expect(db.healthcheck.test.join(' ')).toContain('pg_isready');
    for (const service of [api, preload]) expect([service.command, service.init]).toEqual([['node', 'dist/main.js'], true]);
    expect(api.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${api.environment.PORT}${readiness}`);
    const grace = /^(\d+)s$/.exec(api.stop_grace_period);
    expect(Number(grace?.[1])).toBeGreaterThan(GRACEFUL_S);
  });
});
