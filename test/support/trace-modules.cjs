// Loaded with --require into every process of a demo cluster (cluster.fork passes execArgv on).
// At exit, each process writes the modules it loaded to TRACE_MODULES_DIR/<role>-<pid>.json, so a
// test can prove the primary never imported the app and preloaded workers never imported components.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
if (process.env.TRACE_MODULES_DIR) {
  const role = process.env.NEST_PRELOAD_ROLE || 'primary';
  process.on('exit', () => {
    writeFileSync(join(process.env.TRACE_MODULES_DIR, `${role}-${process.pid}.json`), JSON.stringify(Object.keys(require.cache)));
  });
}
