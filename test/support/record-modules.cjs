// Loaded with `node --require` by the start-up test: writes the packages the process loaded (their names, from
// node_modules) and the sidecar's capabilities it loaded ("sidecar/NAME") to the file LOADED_MODULES_FILE names, as
// it exits, so the test can say what a command loads.
const Module = require('node:module');
const fs = require('node:fs');

const out = process.env.LOADED_MODULES_FILE;
if (out) {
  process.on('exit', () => {
    const packages = new Set();
    for (const file of Object.keys(Module._cache)) {
      const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
      if (m) packages.add(m[1].replace(/\\/g, '/'));
      // The sidecar's own capabilities, as "sidecar/NAME" (from the source or the build).
      const own = /[\\/]sidecar[\\/]([^\\/]+)[\\/][^\\/]+$/.exec(file);
      if (own && !m) packages.add(`sidecar/${own[1]}`);
      // The build's one-file knex and MariaDB driver (scripts/build.mjs), in place of the two packages.
      if (/[\\/]dist[\\/]sidecar[\\/]db[\\/]database-driver\.js$/.test(file)) packages.add('(built database driver)');
    }
    fs.writeFileSync(out, JSON.stringify([...packages].sort()));
    // Whether stack traces were mapped to the TypeScript lines (node then reads every module's map as it loads).
    if (process.env.SOURCE_MAPS_FILE) fs.writeFileSync(process.env.SOURCE_MAPS_FILE, String(process.sourceMapsEnabled));
  });
}
