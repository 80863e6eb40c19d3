/**
 * The edge of the library: the only place that ends the process or sets its exit code. Everything
 * else resolves an exit code (`runCluster`'s roles, the supervisor, the CLI's `main`) or, in a
 * serving child whose drain ends later, is handed this function.
 */
export function exitProcess(code: number): never {
  process.exit(code);
}

/** For the CLI: the code the process exits with once its output is flushed and nothing is left to do. */
export function setExitCode(code: number): void {
  process.exitCode = code;
}
