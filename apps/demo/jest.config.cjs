/** Unit specs of the demo (in-process, real SQLite). */
module.exports = {
  displayName: 'demo',
  testEnvironment: 'node',
  // CI's closing summary reads what this writes (see the reporter).
  reporters: ['default', ['<rootDir>/../../tools/jest-results-reporter.cjs', { project: 'demo' }]],
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
