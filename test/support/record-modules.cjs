// Loaded with `node --require` by the start-up test: writes the packages the process loaded (their names, from
// node_modules) and the sidecar's capabilities it loaded ("sidecar/NAME") to the file LOADED_MODULES_FILE names, as
// it exits, so the test can say what a command loads.
const Module = require('node:module');
const fs = require('node:fs');

// How many modules V8 compiled from a code cache it accepted, and how many caches it refused (CODE_CACHES_FILE).
const codeCaches = { accepted: 0, refused: 0 };
const vm = require('node:vm');
const Script = vm.Script;
vm.Script = class extends Script {
  constructor(code, options) {
    super(code, options);
    if (options?.cachedData) codeCaches[this.cachedDataRejected ? 'refused' : 'accepted'] += 1;
  }
};

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
    if (process.env.CODE_CACHES_FILE) fs.writeFileSync(process.env.CODE_CACHES_FILE, JSON.stringify(codeCaches));
    // Whether stack traces were mapped to the TypeScript lines (node then reads every module's map as it loads).
    if (process.env.SOURCE_MAPS_FILE) fs.writeFileSync(process.env.SOURCE_MAPS_FILE, String(process.sourceMapsEnabled));
  });
}
