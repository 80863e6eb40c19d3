import Database from 'better-sqlite3';
import { join } from 'node:path';

/** Reads the demo's SQLite file (read-only) and closes it again. */
export function sqlite<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dir, 'data', 'demo.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** `step → role → count` of the step_runs audit table. */
export function stepRuns(dir: string): Record<string, Record<string, number>> {
  return sqlite(dir, (db) => {
    const out: Record<string, Record<string, number>> = {};
    for (const row of db.prepare('select step, role, count(*) as n from step_runs group by step, role').all() as Array<{
      step: string;
      role: string;
      n: number;
    }>) {
      (out[row.step] ??= {})[row.role] = row.n;
    }
    return out;
  });
}

export function superusers(dir: string): number {
  return sqlite(dir, (db) => (db.prepare('select count(*) as n from users where is_superuser = 1').get() as { n: number }).n);
}

export function appliedMigrations(dir: string): string[] {
  return sqlite(dir, (db) => (db.prepare('select name from migrations order by id').all() as Array<{ name: string }>).map((r) => r.name));
}
