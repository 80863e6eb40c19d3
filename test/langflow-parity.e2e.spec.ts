import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { scryptSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from './support/bundles';
import { DemoCluster, eventually } from './support/demo-cluster';
import { createDatabase, hasPostgres } from './support/services';
import { sqlite, stepRuns } from './support/sqlite';

// What Langflow does and we port (../shared/ANCHOR-LANGFLOW.md), each checked on the real demo:
// seeding that updates, the superuser's lifecycle, optional bundles, the two agentic steps.

// Most tests start the demo two or three times in a row: room for a loaded 2-core host.
jest.setTimeout(240_000);

const STARTERS = join(__dirname, '../apps/demo/assets/starter_projects');
const BASIC_PROMPTING = '6d3c6f8e-2f1a-4c53-9a0e-0c5e7a1f0001';
const TWO_ID = '00000000-0000-5000-a000-000000000002';

/** A copy of the shipped starter projects, as an upgrade would ship a changed one. */
function starterCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'np-starters-'));
  cpSync(STARTERS, dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (doc: any) => void): void {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  edit(doc);
  writeFileSync(file, JSON.stringify(doc));
}

/** A FLOWS_PATH with two flows; "Two" carries its own id. */
function flowsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'np-flows-'));
  const flow = (name: string, type: string, id?: string) =>
    JSON.stringify({ ...(id ? { id } : {}), name, data: { nodes: [{ id: 'n1', type, inputs: {} }], edges: [] } });
  writeFileSync(join(dir, 'one.json'), flow('One', 'TextInput'));
  writeFileSync(join(dir, 'two.json'), flow('Two', 'SplitText', TWO_ID));
  return dir;
}

function send(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((ok, fail) => {
    const data = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': data.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

const userFlow = (name: string, id?: string) => ({
  ...(id ? { id } : {}),
  name,
  data: { nodes: [{ id: 'n1', type: 'SplitText', inputs: { text: 'hello' } }], edges: [] },
});

/** Verifies a password against the demo's `scrypt$salt$hash`. */
function verifies(passwordHash: string, password: string): boolean {
  const [, salt, hash] = passwordHash.split('$');
  return scryptSync(password, Buffer.from(salt, 'hex'), 32).toString('hex') === hash;
}

describe('Langflow parity on the real demo (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  describe('create-or-update seeding', () => {
    it('upgrade: a changed starter project and an edited FLOWS_PATH file are updated in place; flows a user saved are untouched', async () => {
      const starters = starterCopy();
      const flows = flowsDir();
      const env = { STARTER_PROJECTS_DIR: starters, FLOWS_PATH: flows };
      cluster = await DemoCluster.start({ workers: 2, preload: true, env });
      await cluster.waitReady();
      // A user saves a flow named like a starter project, one named like a file's flow, and takes
      // over the file's flow "Two" by saving it under its id.
      for (const body of [userFlow('Basic Prompting'), userFlow('One'), userFlow('Two (mine)', TWO_ID)]) {
        expect((await send(cluster.port, 'POST', '/api/v1/flows', body)).status).toBe(201);
      }
      const dir = cluster.dir;
      expect((await cluster.stop()).code).toBe(0);

      editJson(join(starters, 'basic-prompting.json'), (doc) => {
        doc.description = 'Answer with a better prompt (v2).';
        doc.data.nodes[1].inputs.template = 'v2: {question}';
      });
      editJson(join(flows, 'one.json'), (doc) => (doc.name = 'One v2'));
      editJson(join(flows, 'two.json'), (doc) => (doc.name = 'Two v2'));
      cluster = await DemoCluster.start({ workers: 2, preload: true, dir, env });
      await cluster.waitReady();

      const starter = sqlite(dir, (db) =>
        db.prepare('select count(*) as n, description, data from flows where id = ?').get(BASIC_PROMPTING),
      ) as { n: number; description: string; data: string };
      expect(starter).toMatchObject({ n: 1, description: 'Answer with a better prompt (v2).' });
      expect(JSON.parse(starter.data).nodes[1].inputs.template).toBe('v2: {question}');
      expect(sqlite(dir, (db) => db.prepare('select count(*) as n from flows where is_starter = 1').get())).toEqual({ n: 4 });
      expect(
        sqlite(dir, (db) => db.prepare('select name, seed_hash is null as mine from flows where is_starter = 0 order by name').all()),
      ).toEqual([
        { name: 'Basic Prompting', mine: 1 },
        { name: 'One', mine: 1 },
        { name: 'One v2', mine: 0 },
        { name: 'Two (mine)', mine: 1 },
      ]);
      expect(cluster.output()).toContain('starter projects: 0 inserted, 1 updated, 3 unchanged of 4');
      expect(cluster.output()).toContain(`flows from ${flows}: 0 inserted, 1 updated, 0 unchanged, 1 left alone (saved by a user) of 2`);
    });

    const racing = async (database: { env: Record<string, string>; counts: (dir: string) => Promise<unknown> }) => {
      const starters = starterCopy();
      const flows = flowsDir();
      const env = { ...database.env, STARTER_PROJECTS_DIR: starters, FLOWS_PATH: flows };
      cluster = await DemoCluster.start({ workers: 2, preload: true, env });
      await cluster.waitReady();
      const dir = cluster.dir;
      await cluster.stop();
      editJson(join(starters, 'memory-chatbot.json'), (doc) => (doc.description = 'Remembers more (v2).'));
      editJson(join(flows, 'one.json'), (doc) => (doc.description = 'edited'));
      cluster = await DemoCluster.start({ workers: 8, preload: false, dir, env });
      await cluster.waitReady(90_000);
      expect(await database.counts(dir)).toEqual({ users: 1, starters: 4, flows: 2, updated: 2, variables: 3 });
      expect(cluster.output()).not.toMatch(/ERROR/);
    };

    it('8 workers racing with preload off over changed content (SQLite): one row per flow, the new content', async () => {
      await racing({
        env: {},
        counts: async (dir) =>
          sqlite(dir, (db) =>
            db
              .prepare(
                `select (select count(*) from users) as users, (select count(*) from flows where is_starter) as starters, (select count(*) from flows where not is_starter) as flows,
              (select count(*) from flows where description in ('Remembers more (v2).', 'edited')) as updated, (select count(*) from variables) as variables`,
              )
              .get(),
          ),
      });
    });

    (hasPostgres() ? it : it.skip)(
      '8 workers racing with preload off over changed content (PostgreSQL): one row per flow, the new content',
      async () => {
        const db = await createDatabase();
        try {
          await racing({
            env: { DATABASE_URL: db.url },
            counts: async () =>
              (
                await db.query(`select (select count(*)::int from users) as users, (select count(*)::int from flows where is_starter) as starters, (select count(*)::int from flows where not is_starter) as flows,
                (select count(*)::int from flows where description in ('Remembers more (v2).', 'edited')) as updated, (select count(*)::int from variables) as variables`)
              )[0],
          });
        } finally {
          await cluster?.destroy();
          cluster = undefined;
          await db.drop();
        }
      },
    );
  });

  describe('the superuser lifecycle', () => {
    const configured = { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: 'c0rrect-Horse-battery', DEMO_TEST_HOOKS: 'true' };
    const users = (dir: string) =>
      sqlite(dir, (db) => db.prepare('select username, origin, password_hash as hash from users order by username').all()) as Array<{
        username: string;
        origin: string;
        hash: string;
      }>;

    it('auto-login, then AUTO_LOGIN=false: the default superuser that never signed in is gone, the configured one signs in; no process keeps the password', async () => {
      cluster = await DemoCluster.start({ workers: 2, preload: true });
      await cluster.waitReady();
      const dir = cluster.dir;
      await cluster.stop();
      cluster = await DemoCluster.start({ workers: 2, preload: true, dir, env: configured });
      await cluster.waitReady();
      expect(cluster.output()).toContain('removed the auto-login superuser "langflow" (AUTO_LOGIN=false): it never signed in');
      const [admin, ...others] = users(dir);
      expect(others).toEqual([]);
      expect(admin).toMatchObject({ username: 'admin', origin: 'configured' });
      expect(verifies(admin.hash, 'c0rrect-Horse-battery')).toBe(true);
      // The starter projects went with the removed user and were seeded again for the configured one.
      expect(
        sqlite(dir, (db) =>
          db
            .prepare('select count(*) as n from flows f join users u on u.id = f.user_id where f.is_starter and u.username = ?')
            .get('admin'),
        ),
      ).toEqual({ n: 4 });
      // Neither the preloader (which ran the step) nor a worker that skipped it keeps the password.
      const seen = new Map<number, unknown>();
      for (let i = 0; i < 200 && seen.size < 2; i++) {
        const answer = (await send(cluster.port, 'GET', '/__test/secrets')).json;
        seen.set(answer.pid, answer);
      }
      expect([...seen.values()]).toEqual([
        expect.objectContaining({ configHasPassword: false, envHasPassword: false }),
        expect.objectContaining({ configHasPassword: false, envHasPassword: false }),
      ]);
    });

    it('a default superuser that signed in (/api/v1/auto_login) is kept when AUTO_LOGIN is turned off, and the log says why', async () => {
      cluster = await DemoCluster.start({ workers: 2, preload: true });
      await cluster.waitReady();
      expect((await send(cluster.port, 'GET', '/api/v1/auto_login')).json).toMatchObject({ username: 'langflow', is_superuser: true });
      const dir = cluster.dir;
      await cluster.stop();
      cluster = await DemoCluster.start({ workers: 2, preload: true, dir, env: configured });
      await cluster.waitReady();
      expect(cluster.output()).toMatch(
        /kept the auto-login superuser "langflow" \(AUTO_LOGIN=false\): it signed in \(last at \d{4}-\d\d-\d\dT/,
      );
      expect(users(dir).map((u) => [u.username, u.origin])).toEqual([
        ['admin', 'configured'],
        ['langflow', 'auto_login'],
      ]);
      expect(verifies(users(dir)[0].hash, 'c0rrect-Horse-battery')).toBe(true);
    });
  });

  describe('optional bundles', () => {
    let server: Server;
    let base: string;
    let bundle: string;
    const hits = new Map<string, number>();
    beforeAll(async () => {
      bundle = await makeBundle(30, 'tar.gz', 'Flaky');
      server = createServer((req, res) => {
        const n = (hits.get(req.url ?? '') ?? 0) + 1;
        hits.set(req.url ?? '', n);
        if (req.url === '/flaky.tar.gz') {
          if (n <= 2) {
            res.statusCode = 503;
            return res.end('try later');
          }
          return res.end(readFileSync(bundle));
        }
        if (req.url === '/hang.tar.gz') return; // never answers
        res.statusCode = 404;
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    beforeEach(() => hits.clear());

    const policy = { BUNDLE_TIMEOUT_MS: '1000', BUNDLE_RETRIES: '2', BUNDLE_RETRY_DELAY_MS: '100' };

    it('optional: one that fails twice then answers is loaded; one that never answers is skipped within its bound; the cluster serves and health names it', async () => {
      cluster = await DemoCluster.start({
        workers: 2,
        preload: true,
        env: { ...policy, BUNDLE_REQUIRED: 'false', BUNDLE_URLS: `${base}/flaky.tar.gz,${base}/hang.tar.gz` },
      });
      expect((await cluster.waitReady())[3]).toBe('preloaded');
      expect(hits.get('/flaky.tar.gz')).toBe(3);
      expect(hits.get('/hang.tar.gz')).toBe(3);
      expect(cluster.output()).toContain(
        `bundle ${base}/flaky.tar.gz could not be downloaded: HTTP 503 Service Unavailable; attempt 1 of 3, trying again in 100 ms`,
      );
      expect(cluster.output()).toContain(`bundle ${base}/flaky.tar.gz: 30 component module(s)`);
      expect(cluster.output()).toContain(
        `SKIPPED optional bundle ${base}/hang.tar.gz: bundle ${base}/hang.tar.gz could not be downloaded: no complete answer within 1000 ms.`,
      );
      for (const { status, body } of (await cluster.healthOfEveryWorker(2)).values()) {
        expect(status).toBe(200);
        expect(body.details.bundles).toEqual({
          status: 'up',
          loaded: [`${base}/flaky.tar.gz`],
          missing: [
            {
              source: `${base}/hang.tar.gz`,
              reason: `bundle ${base}/hang.tar.gz could not be downloaded: no complete answer within 1000 ms`,
            },
          ],
        });
        const step = body.details.preload.steps.find((s: { name: string }) => s.name === 'bundles');
        expect(step).toMatchObject({ status: 'complete', ranIn: 'preloader' });
        // Within its bound: three attempts of at most 1 s (all three of the silent one ran out), far
        // less than one attempt under the default 30 s bound.
        expect(step.durationMs).toBeGreaterThanOrEqual(3_000);
        expect(step.durationMs).toBeLessThan(30_000);
      }
      const all = (await cluster.get('/api/v1/all')).json() as Record<string, Record<string, unknown>>;
      expect(
        Object.values(all)
          .flatMap((category) => Object.keys(category))
          .filter((name) => name.startsWith('Flaky')),
      ).toHaveLength(30);
    });

    it('required (the default): one that never answers fails the preload after its retries, as before', async () => {
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { ...policy, BUNDLE_URLS: `${base}/hang.tar.gz` } });
      const exit = await cluster.waitExit();
      expect(exit.code).toBe(3);
      expect(cluster.output()).toContain(
        `Critical preload step "bundles" failed: BundleError: bundle ${base}/hang.tar.gz could not be downloaded: no complete answer within 1000 ms`,
      );
      expect(hits.get('/hang.tar.gz')).toBeGreaterThanOrEqual(3);
    });
  });

  describe('the agentic steps', () => {
    const mcpFile = (dir: string, userId: string) => join(dir, 'config', userId, `_mcp_servers_${userId}.json`);
    const userId = (dir: string) => (sqlite(dir, (db) => db.prepare('select id from users').get()) as { id: string }).id;

    it('are independent: agentic_globals failing in the preloader leaves agentic_mcp done there, and the workers redo only agentic_globals', async () => {
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_FAIL_STEPS: 'agentic_globals@preloader' } });
      await cluster.waitReady();
      await eventually(
        () => stepRuns((cluster as DemoCluster).dir).agentic_globals !== undefined,
        20_000,
        'a worker redid agentic_globals',
      );
      const runs = stepRuns(cluster.dir);
      expect(runs.agentic_mcp).toEqual({ preloader: 1 });
      expect(runs.agentic_globals?.preloader).toBeUndefined();
      expect(runs.agentic_globals?.worker).toBeGreaterThanOrEqual(1);
      expect(sqlite(cluster.dir, (db) => db.prepare('select name, value, type from variables order by name').all())).toEqual([
        { name: 'COMPONENT_ID', value: '', type: 'generic' },
        { name: 'FIELD_NAME', value: '', type: 'generic' },
        { name: 'FLOW_ID', value: '', type: 'generic' },
      ]);
      expect(JSON.parse(readFileSync(mcpFile(cluster.dir, userId(cluster.dir)), 'utf8'))).toEqual({
        mcpServers: { 'langflow-agentic': { url: `http://127.0.0.1:${cluster.port}/api/v1/agentic/mcp` } },
      });
    });

    it('a best-effort step that fails again in every worker leaves every worker serving; the other agentic step completes; an operator-edited file is kept', async () => {
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_FAIL_STEPS: 'agentic_mcp' } });
      await cluster.waitReady();
      const dir = cluster.dir;
      expect(stepRuns(dir).agentic_globals).toEqual({ preloader: 1 });
      expect(stepRuns(dir).agentic_mcp).toBeUndefined();
      for (const { status, body } of (await cluster.healthOfEveryWorker(2)).values()) {
        expect(status).toBe(200);
        expect(body.details.preload.steps.find((s: { name: string }) => s.name === 'agentic_mcp')).toMatchObject({
          status: 'failed',
          critical: false,
        });
      }
      expect((await cluster.get('/api/v1/starter-projects')).status).toBe(200);
      expect(existsSync(mcpFile(dir, userId(dir)))).toBe(false);
      await cluster.stop();
      // Fixed: the file is written once, and an operator's edit of it survives the next start.
      cluster = await DemoCluster.start({ workers: 2, preload: true, dir });
      await cluster.waitReady();
      writeFileSync(mcpFile(dir, userId(dir)), '{"mcpServers":{}}\n');
      await cluster.stop();
      cluster = await DemoCluster.start({ workers: 2, preload: true, dir });
      await cluster.waitReady();
      expect(readFileSync(mcpFile(dir, userId(dir)), 'utf8')).toBe('{"mcpServers":{}}\n');
      expect(sqlite(dir, (db) => db.prepare('select count(*) as n from variables').get())).toEqual({ n: 3 });
    });
  });
});
