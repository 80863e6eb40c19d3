import { PreloadConfigError } from './errors/preload.error';
import { pgAdvisoryLock } from './pg';

// The real path (its own pg connection, two clusters racing on one database) is tested in
// test/drizzle-api.e2e.spec.ts; here only what is refused before anything connects.
describe('pgAdvisoryLock', () => {
  it('needs a connection, and says what to pass', () => {
    expect(() => pgAdvisoryLock(undefined as never)).toThrow(PreloadConfigError);
    expect(() => pgAdvisoryLock({} as never)).toThrow(
      'pgAdvisoryLock needs `connection`: the postgres:// URL your ORM connects with, or pg client settings',
    );
  });

  it('refuses a URL that is not PostgreSQL, without echoing its password', () => {
    const attempt = () => pgAdvisoryLock({ connection: 'mysql://app:s3cret@db:3306/app' });
    expect(attempt).toThrow('pgAdvisoryLock needs a postgres:// (or postgresql://) URL, got "mysql://***@db:3306/app"');
    expect(attempt).not.toThrow(/s3cret/);
    // Unencoded '/' or '@' in a password, or no URL at all, leak nothing either.
    for (const [url, shown] of [
      ['mysql://app:se/cr@t@db:3306/app', 'mysql:… (not a URL)'],
      ['mysql://app:p@ss@db/app', 'mysql://***@db/app'],
      ['app:s3cret@db', 'app:… (no host)'],
    ]) {
      const bad = () => pgAdvisoryLock({ connection: url });
      expect(bad).toThrow(`got "${shown}"`);
      expect(bad).not.toThrow(/se\/cr|p@ss|s3cret/);
    }
  });

  it('is a cross-host lock backend for databaseLock', () => {
    for (const connection of ['postgres://app@db:5432/app', 'postgresql://db/app', { host: 'db', database: 'app' }]) {
      const lock = pgAdvisoryLock({ connection });
      expect([lock.kind, lock.crossHost]).toEqual(['postgres-advisory', true]);
    }
  });
});
