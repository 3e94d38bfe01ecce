#!/usr/bin/env node
// @ts-check
/**
 * `npm run build`: compiles the sidecar to dist/ (tsconfig.build.json) and
 * copies what it reads from disk at run time beside the compiled code, at the
 * same relative places as in the source tree, so `path.resolve(__dirname, ...)`
 * finds them from both:
 *
 *   sql/                 -> dist/sql/                 (kmc migrate)
 *   templates/           -> dist/templates/           (notices and staff pages)
 *   sidecar/web/assets/  -> dist/sidecar/web/assets/  (CSS and scripts of the pages)
 *
 * It also writes knex with the MariaDB driver (mysql2) as one file,
 * dist/sidecar/db/database-driver.js, which sidecar/db loads when it is there:
 * the packages' 400-odd small files cost a short command about 100 ms of CPU
 * and 10 MB to find and compile, one file a fraction of that.
 *
 * Last, beside each compiled module, its V8 code cache (NAME.js.v8cache),
 * which bin/kmc hands to V8 so a command does not parse and compile its
 * modules again: made by this Node.js, it is used by the same version only
 * (V8 refuses it otherwise, and the module is compiled as usual).
 *
 * dist/BUILD holds a fingerprint of the inputs. Options:
 *   --if-stale  build only when dist/ is missing or older than the source
 *   --check     build nothing; exit 0 when dist/ is current, 1 when not
 *
 * Without TypeScript installed (`npm ci --omit=dev`) a current dist/ is kept
 * as it is; a missing or stale one is an error that says what to do.
 * Plain JavaScript on purpose: it runs before anything is compiled and
 * without the development dependencies.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, 'BUILD');
/** Read at run time relative to the compiled code; copied to the same place under dist/. */
const RUNTIME_FILES = ['sql', 'templates', path.join('sidecar', 'web', 'assets')];
/** What the build is made from: a change to any of these makes dist/ stale (the lock file: the bundled driver). */
const INPUTS = ['sidecar', 'sql', 'templates', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
/** knex and mysql2 in one file; sidecar/db/database.ts names it too. */
const DATABASE_DRIVER = path.join(DIST, 'sidecar', 'db', 'database-driver.js');
/** knex's other dialects, which the sidecar never uses: left out of the bundle. */
const OTHER_DIALECTS = /^\.\/(better-sqlite3|cockroachdb|mssql|mariadb|oracle|oracledb|pgnative|postgres|redshift|sqlite3)$/;
/** What the build writes; other files in dist/ (the plugin's .kpz) are left alone. */
const OUTPUTS = ['sidecar', 'sql', 'templates', 'BUILD'];

/** @param {string} p @returns {string[]} every file under p, sorted, relative to ROOT */
function filesUnder(p) {
  const full = path.join(ROOT, p);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [p];
  return readdirSync(full, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => filesUnder(path.join(p, e.name)));
}

/** A fingerprint of the inputs' names and contents (not their times: a fresh clone has new ones). */
function sourceFingerprint() {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap(filesUnder)) {
    hash.update(file.split(path.sep).join('/') + '\0');
    hash.update(readFileSync(path.join(ROOT, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** @returns {'current' | 'stale' | 'missing'} */
function buildState() {
  if (!existsSync(STAMP) || !existsSync(path.join(DIST, 'sidecar', 'cli.js'))) return 'missing';
  const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
  return stamp.fingerprint === sourceFingerprint() ? 'current' : 'stale';
}

function typescriptCompiler() {
  try {
    return createRequire(path.join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

/** Bundles knex with the mysql2 dialect and driver into DATABASE_DRIVER. */
async function bundleDatabaseDriver() {
  const { build: esbuild } = createRequire(path.join(ROOT, 'package.json'))('esbuild');
  await esbuild({
    stdin: { contents: "module.exports = require('knex');", resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: DATABASE_DRIVER,
    logLevel: 'warning',
    // Without the comments: one non-ASCII character in them makes V8 keep the whole file's text at two bytes a character.
    minifyWhitespace: true,
    charset: 'ascii',
    legalComments: 'eof',
    // The mysql dialect's own driver; the mysql2 dialect replaces it.
    external: ['mysql'],
    plugins: [
      {
        name: 'mysql2-only',
        setup(b) {
          b.onResolve({ filter: OTHER_DIALECTS }, (a) =>
            a.importer.includes('knex') ? { path: a.path, namespace: 'other-dialect' } : undefined,
          );
          b.onLoad({ filter: /.*/, namespace: 'other-dialect' }, (a) => ({
            contents: `throw new Error('the sidecar is built with the mysql2 client only, not ${a.path}');`,
            loader: 'js',
          }));
        },
      },
    ],
  });
}

/** Writes each compiled module's code cache beside it, compiled as bin/kmc compiles it (Module.wrap, vm.Script). */
function writeCodeCaches() {
  for (const file of filesUnder(path.join('dist', 'sidecar')).filter((f) => f.endsWith('.js'))) {
    const filename = path.join(ROOT, file);
    const script = new vm.Script(Module.wrap(readFileSync(filename, 'utf8')), { filename });
    writeFileSync(`${filename}.v8cache`, script.createCachedData());
  }
}

async function build() {
  const tsc = typescriptCompiler();
  if (!tsc) {
    const state = buildState();
    if (state === 'current') {
      process.stdout.write('kmc build: TypeScript is not installed; dist/ is current and kept\n');
      return 0;
    }
    process.stderr.write(
      `kmc build: dist/ is ${state} and TypeScript is not installed (npm ci --omit=dev?).\n` +
        'Build where the development dependencies are installed (npm ci && npm run build), then copy dist/ along.\n',
    );
    return 1;
  }
  const started = Date.now();
  const fingerprint = sourceFingerprint();
  for (const out of OUTPUTS) rmSync(path.join(DIST, out), { recursive: true, force: true });
  const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  if (compiled.status !== 0) {
    process.stderr.write('kmc build: the TypeScript compiler found errors (above); dist/ is incomplete\n');
    return 1;
  }
  for (const dir of RUNTIME_FILES) cpSync(path.join(ROOT, dir), path.join(DIST, dir), { recursive: true });
  await bundleDatabaseDriver();
  writeCodeCaches();
  const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  writeFileSync(STAMP, JSON.stringify({ version, fingerprint, builtAt: new Date().toISOString() }, null, 2) + '\n');
  process.stdout.write(`kmc build: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return 0;
}

async function run(args) {
  if (args.includes('--check')) {
    const state = buildState();
    process.stdout.write(`kmc build: dist/ is ${state}\n`);
    return state === 'current' ? 0 : 1;
  }
  if (args.includes('--if-stale') && buildState() === 'current') return 0;
  return build();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await run(process.argv.slice(2));
}
