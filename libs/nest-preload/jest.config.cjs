/** Unit specs of the library: fast, in-process, beside the code. */
module.exports = {
  displayName: 'nest-preload',
  testEnvironment: 'node',
  // CI's closing summary reads what this writes (see the reporter).
  reporters: ['default', ['<rootDir>/../../tools/jest-results-reporter.cjs', { project: 'nest-preload' }]],
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
