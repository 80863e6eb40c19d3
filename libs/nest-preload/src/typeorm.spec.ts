import { DataSource } from 'typeorm';
import { PreloadConfigError } from './errors/preload.error';
import { typeOrmAdvisoryLock } from './typeorm';

describe('typeOrmAdvisoryLock', () => {
  it('refuses a SQLite DataSource before anything connects, and says what to do instead', () => {
    const sqlite = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    expect(() => typeOrmAdvisoryLock(sqlite)).toThrow(PreloadConfigError);
    expect(() => typeOrmAdvisoryLock(sqlite)).toThrow(
      'typeOrmAdvisoryLock needs a PostgreSQL DataSource, this one is "better-sqlite3". SQLite cannot be shared by several hosts: use PostgreSQL for a multi-host deployment, or run one host and leave databaseLock unset.',
    );
    expect(sqlite.isInitialized).toBe(false);
  });

  it('refuses any other driver too (MySQL here), pointing at the file lock for one host', () => {
    const mysql = { options: { type: 'mysql' } } as unknown as DataSource;
    expect(() => typeOrmAdvisoryLock(mysql)).toThrow(
      'typeOrmAdvisoryLock needs a PostgreSQL DataSource, this one is "mysql". Leave databaseLock unset with one host (the file lock guards the work).',
    );
  });

  it('accepts a PostgreSQL DataSource without connecting (the lock connects when taken)', () => {
    const pg = new DataSource({ type: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' });
    expect(typeOrmAdvisoryLock(pg).constructor.name).toBe('PgAdvisoryLock');
    expect(pg.isInitialized).toBe(false);
  });
});
