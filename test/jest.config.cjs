/**
 * End-to-end and fault tests: real processes (the built demo), real SQLite, PostgreSQL, Redis and
 * signals. Run one file at a time: each starts a cluster that wants the machine's cores.
 */
module.exports = {
  displayName: 'e2e',
  testEnvironment: 'node',
  // CI's closing summary reads what this writes (see the reporter).
  reporters: ['default', ['<rootDir>/../tools/jest-results-reporter.cjs', { project: 'e2e' }]],
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.e2e.spec.ts'],
  globalSetup: '<rootDir>/support/global-setup.ts',
  testTimeout: 90_000,
  maxWorkers: 1,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
};
