import { resolve } from 'node:path';
import { DemoCluster } from './support/demo-cluster';
import { createDatabase, hasPostgres } from './support/services';

// The ORM-neutral cross-host lock (@lf/nest-preload/pg) in a real app without TypeORM: the example
// API on Drizzle (apps/drizzle-api), two "hosts" — clusters with their own run, temp and lock dirs
// and ports — started at the same instant against one fresh PostgreSQL database, 10 rounds.
const describeWithPostgres = hasPostgres() ? describe : describe.skip;
const DRIZZLE_MAIN = resolve(__dirname, '../apps/drizzle-api/dist/main.js');

type Db = Awaited<ReturnType<typeof createDatabase>>;

const applied = (host: DemoCluster) => host.lines.filter((l) => /migrations: applied \d/.test(l)).map((l) => /applied (\d+)/.exec(l)?.[1]);
const seeded = (host: DemoCluster) =>
  host.lines.filter((l) => /seed: (inserted|already)/.test(l)).map((l) => (l.includes('inserted') ? 'inserted' : 'already'));

describeWithPostgres('Drizzle app on two hosts with pgAdvisoryLock (real processes, real PostgreSQL)', () => {
  const hosts: DemoCluster[] = [];
  let db: Db | undefined;
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.destroy()));
    await db?.drop();
    db = undefined;
  });

  it('10 rounds on a fresh database: Drizzle migrations applied once, the seed once, every worker of both hosts serves it', async () => {
    for (let round = 1; round <= 10; round++) {
      db = await createDatabase();
      const start = (name: string) =>
        DemoCluster.start({ main: DRIZZLE_MAIN, workers: 2, preload: true, env: { DATABASE_URL: (db as Db).url, INSTANCE: name } });
      const [a, b] = await Promise.all([start('host-a'), start('host-b')]);
      hosts.push(a, b);
      const [readyA, readyB] = await Promise.all([a.waitReady(), b.waitReady()]);
      const context = `round ${round}:\n--- host a\n${a.output().slice(-3000)}\n--- host b\n${b.output().slice(-3000)}`;
      expect([readyA[3], readyB[3], context]).toEqual(['preloaded', 'preloaded', context]);
      // Exactly one host applied both migrations and inserted the seed; the other found them done, inside the lock.
      expect([[...applied(a), ...applied(b)].sort(), [...seeded(a), ...seeded(b)].sort(), context]).toEqual([
        ['0', '2'],
        ['already', 'inserted'],
        context,
      ]);
      const [journal] = await db.query<{ n: number; hashes: number }>(
        'select count(*)::int as n, count(distinct hash)::int as hashes from drizzle.__drizzle_migrations',
      );
      const [notes] = await db.query<{ n: number }>('select count(*)::int as n from notes');
      const [column] = await db.query<{ n: number }>(
        "select count(*)::int as n from information_schema.columns where table_name = 'notes' and column_name = 'tags'",
      );
      expect({ journal, notes: notes.n, tags: column.n }).toEqual({ journal: { n: 2, hashes: 2 }, notes: 1, tags: 1 });
      // No lock connection is left once the steps ended (that the lock runs on its own named
      // connection, which held.session is, is test/pg-lock.e2e.spec.ts's).
      expect(await db.query("select application_name from pg_stat_activity where application_name like 'drizzle-api:%:lock'")).toEqual([]);
      for (const host of [a, b]) {
        const workers = new Set<number>();
        for (let i = 0; i < 100 && workers.size < 2; i++) {
          const answer = await host.get('/notes');
          expect(answer.status).toBe(200);
          expect(answer.json().notes.map((n: { title: string }) => n.title)).toEqual(['Welcome']);
          workers.add(answer.json().worker);
        }
        expect([...workers].sort()).toEqual([0, 1]);
        expect((await host.get('/health/preload')).status).toBe(200);
      }
      const [stopA, stopB] = await Promise.all([a.stop(), b.stop()]);
      expect([stopA.code, stopB.code]).toEqual([0, 0]);
      hosts.splice(0);
      await db.drop();
      db = undefined;
    }
  }, 600_000);
});
