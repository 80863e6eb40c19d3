import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, get } from './support/demo-cluster';

const ENTRY = resolve(__dirname, '../apps/typical-api/dist/main.js');

function post(port: number, path: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((ok, fail) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), connection: 'close' },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

/** The benchmark's typical-API fixture works as an app: it is measured only if it really serves. */
describe('the typical-API benchmark fixture (real processes, SQLite)', () => {
  it('starts as a preloaded cluster: migration and seeds once, validation and OpenAPI in serve, CRUD over 24 features', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-typical-'));
    const port = await freePort();
    const proc = spawn(process.execPath, [ENTRY], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, PORT: String(port), WORKERS: '2', DATA_DIR: join(dir, 'data'), TMPDIR: dir, NO_COLOR: '1' },
    });
    let out = '';
    proc.stdout?.on('data', (c) => (out += c));
    proc.stderr?.on('data', (c) => (out += c));
    try {
      for (const deadline = Date.now() + 60_000; !/cluster ready: 2\/2 workers \(preloaded/.test(out);) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`not ready:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out.match(/migrations: applied 1/g)).toHaveLength(1);
      expect(out.match(/seeds: 480 row\(s\) written/g)).toHaveLength(1);
      // Its steps take a file lock (proper-lockfile adds a SIGTERM listener of its own): not serve's doing.
      expect(out).not.toContain('was added in serve');
      const list = await get(port, '/customers');
      expect(list.status).toBe(200);
      expect(list.json()).toHaveLength(20);
      expect((await post(port, '/orders', { name: 'o-1', quantity: -1 })).status).toBe(400);
      expect((await post(port, '/orders', { name: 'o-1', quantity: 2, parentId: 1 })).body).toMatchObject({
        name: 'o-1',
        quantity: 2,
        parentId: 1,
      });
      const docs = (await get(port, '/docs-json')).json();
      const tags = new Set(Object.values(docs.paths).flatMap((p: any) => Object.values(p).flatMap((op: any) => op.tags ?? [])));
      expect(tags.size).toBe(24);
      expect(docs.components.schemas.CreateOrdersDto.required).toEqual(['name']);
    } finally {
      if (proc.exitCode === null) process.kill(-(proc.pid as number), 'SIGTERM');
      await new Promise((r) => (proc.exitCode === null ? proc.on('exit', r) : r(null)));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
