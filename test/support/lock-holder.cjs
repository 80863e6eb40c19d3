// Holds a startup lock (the built library's FileLock) for HOLD_MS, then reports how it ended.
// Used to kill or stop a real lock holder from a test.
const { FileLock, LockCompromisedError } = require('@lf/nest-preload');
const [dir, name, holdMs, staleMs] = process.argv.slice(2);
new FileLock(dir)
  .withLock(
    name,
    async () => {
      console.log('held');
      await new Promise((r) => setTimeout(r, Number(holdMs)));
      return 'done';
    },
    { staleMs: Number(staleMs), timeoutMs: Number(staleMs) + 5_000 },
  )
  .then(
    (result) => console.log(result),
    (error) => {
      console.log(error instanceof LockCompromisedError ? `compromised: ${error.code}` : `failed: ${error.message}`);
    },
  );
