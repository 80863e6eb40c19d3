// Loaded with --require into every process of a demo cluster; only the primary (no role set)
// records which modules it loaded, so a test can prove the primary never imported the app.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
if (!process.env.NEST_PRELOAD_ROLE && process.env.TRACE_MODULES_DIR) {
  process.on('exit', () => {
    writeFileSync(join(process.env.TRACE_MODULES_DIR, `primary-${process.pid}.json`), JSON.stringify(Object.keys(require.cache)));
  });
}
