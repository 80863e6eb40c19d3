/**
 * A Jest reporter beside the default one: with JEST_RESULTS_DIR set (CI does), each project writes
 * its counts to DIR/<displayName>.json once its run completes. Nx streams every project's output
 * with a prefix per chunk, which can split Jest's own "Tests:" line in two; these files are what
 * CI's closing summary is made from.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class ResultsFileReporter {
  constructor(_globalConfig, options = {}) {
    if (!options.project) throw new Error('jest-results-reporter: give the project a name: [reporter, { project: "…" }]');
    this.project = options.project;
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.JEST_RESULTS_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `${this.project}.json`),
      `${JSON.stringify({
        project: this.project,
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
        failedSuites: results.numFailedTestSuites,
        suitesThatDidNotRun: results.numRuntimeErrorTestSuites,
      })}\n`,
    );
  }
}

module.exports = ResultsFileReporter;
