/**
 * Start-up: a command loads only what it uses. `kmc --help` loads no
 * database, web, mail, SMS, PDF or scheduling library, and a notice run
 * that finds nothing to do (`kmc run overdue --dry-run` on a library with no
 * loans) loads the database but not winston (one-off commands write the same
 * log lines without it), the web server, the PDF
 * writer, the mail libraries, the scheduler or the template engine (nunjucks
 * is loaded when a notice is first checked or rendered). Each command is a real child
 * process; a hook given to node with --require writes the packages it loaded
 * as it exits. (How fast and small that makes them is for `npm run bench`.)
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { cliKind, runKmc } from '../support/cli';
import { migrate } from '../../sidecar/db';
import { seedLibrary } from '../../sidecar/fixture';

const HOOK = path.resolve(__dirname, '..', 'support', 'record-modules.cjs');

/** What only serving pages (and the server's logger), rendering notices, sending, reading returned mail, writing letters or scheduling needs. */
const NOT_FOR_A_RUN = [
  'nunjucks',
  'winston',
  'express',
  'cookie-parser',
  'bcryptjs',
  'cronstrue',
  'pdfkit',
  'fontkit',
  'nodemailer',
  'smtp-server',
  'imapflow',
  'mailparser',
  'node-schedule',
];
/** The sidecar's capabilities a notice run has no use for. */
const SIDECAR_NOT_FOR_A_RUN = ['sidecar/delivery', 'sidecar/bounces', 'sidecar/letters', 'sidecar/archive', 'sidecar/staff', 'sidecar/web'];
/** Besides those, `--help` needs no database, logger or phone numbers. */
const NOT_FOR_HELP = [...NOT_FOR_A_RUN, 'knex', 'mysql2', '(built database driver)', 'safe-stable-stringify', 'libphonenumber-js'];

describe(`what a command loads at start-up (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(120_000);
  let db: KohaDatabase;
  let dir: string;

  before(async () => {
    db = await createKohaDatabase('startup');
    await migrate(db.knex);
    await seedLibrary(db.knex, { today: '2026-11-24', patrons: 5, biblios: 10, itemsPerBiblio: 1, loans: 0, holds: 0, returnedLoans: 0 });
    dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-startup-'));
  });

  after(async () => {
    await db.drop();
  });

  /** Runs `kmc ARGS` with the recording hook; returns its result and the packages it loaded. */
  async function loaded(name: string, args: string[], settings: Record<string, string>) {
    const file = path.join(dir, `${name}.json`);
    const mapsFile = path.join(dir, `${name}.maps`);
    const cachesFile = path.join(dir, `${name}.caches`);
    const result = await runKmc(args, {
      ...settings,
      LOADED_MODULES_FILE: file,
      SOURCE_MAPS_FILE: mapsFile,
      CODE_CACHES_FILE: cachesFile,
      NODE_OPTIONS: `--require ${HOOK}`,
    });
    return {
      result,
      packages: JSON.parse(readFileSync(file, 'utf8')) as string[],
      sourceMaps: readFileSync(mapsFile, 'utf8') === 'true',
      codeCaches: JSON.parse(readFileSync(cachesFile, 'utf8')) as { accepted: number; refused: number },
    };
  }

  it('kmc --help loads none of the libraries of the commands', async () => {
    const { result, packages } = await loaded('help', ['--help'], {});
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain('kmc templates import-koha').and.contain('kmc archive anonymise');
    expect(packages.filter((p) => NOT_FOR_HELP.includes(p))).to.deep.equal([]);
  });

  it('a run that finds nothing loads the database and the command logger, and neither winston nor the template, web, mail, PDF or scheduling libraries', async () => {
    const { result, packages, sourceMaps, codeCaches } = await loaded('run', ['run', 'overdue', '--dry-run', '--json'], {
      KMC_DATABASE_URL: db.url,
      KMC_SMTP_URL: 'smtp://127.0.0.1:1',
      KMC_PRINT_DIR: dir,
      KMC_LOG_LEVEL: 'error',
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.include({ dryRun: true, created: 0 });
    // The built kmc loads knex and the driver as the build's one file, not as the packages' 400-odd files.
    const database = cliKind() === 'built' ? ['(built database driver)'] : ['knex', 'mysql2'];
    expect(packages).to.include.members([...database, 'safe-stable-stringify']);
    if (cliKind() === 'built') expect(packages.filter((p) => ['knex', 'mysql2', 'lodash', 'tarn'].includes(p))).to.deep.equal([]);
    expect(packages.filter((p) => NOT_FOR_A_RUN.includes(p))).to.deep.equal([]);
    // Nor the sidecar's own code for sending, returned mail, letters, the nightly anonymiser, sign-in and pages.
    expect(packages).to.include.members(['sidecar/notices', 'sidecar/db']);
    expect(packages.filter((p) => SIDECAR_NOT_FOR_A_RUN.includes(p))).to.deep.equal([]);
    // It shows no stack trace, so the built kmc reads no source maps (the source run through tsx always maps).
    expect(sourceMaps).to.equal(cliKind() === 'source');
    // The built kmc compiles each of its modules from the code cache the build wrote beside it, and V8 takes every one.
    if (cliKind() === 'built') {
      expect(codeCaches.accepted).to.be.greaterThan(100);
      expect(codeCaches.refused).to.equal(0);
    } else expect(codeCaches).to.deep.equal({ accepted: 0, refused: 0 });
  });

  it('a delivery with no e-mail to send does not load the mail library', async () => {
    const { result, packages } = await loaded('deliver', ['deliver', '--once', '--json'], {
      KMC_DATABASE_URL: db.url,
      KMC_SMTP_URL: 'smtp://127.0.0.1:1',
      KMC_PRINT_DIR: dir,
      KMC_LOG_LEVEL: 'error',
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.include({ sent: 0, claimed: 0 });
    expect(packages).to.include('sidecar/delivery');
    expect(packages.filter((p) => ['nodemailer', 'pdfkit', 'smpp', 'express'].includes(p))).to.deep.equal([]);
  });

  it('with --verbose, or logging above errors, stack traces are mapped to the TypeScript lines', async () => {
    const settings = { KMC_DATABASE_URL: db.url, KMC_SMTP_URL: 'smtp://127.0.0.1:1', KMC_PRINT_DIR: dir };
    const verbose = await loaded('verbose', ['run', 'overdue', '--dry-run', '--json', '--verbose'], settings);
    expect(verbose.result.code, verbose.result.stderr).to.equal(0);
    expect(verbose.sourceMaps).to.equal(true);
    const logging = await loaded('warn', ['run', 'overdue', '--dry-run', '--json'], { ...settings, KMC_LOG_LEVEL: 'warn' });
    expect(logging.result.code, logging.result.stderr).to.equal(0);
    expect(logging.sourceMaps).to.equal(true);
  });

  it('a failure with --verbose prints its stack trace at the TypeScript lines; without it, one line', async () => {
    const settings = { KMC_DATABASE_URL: db.url, KMC_PORT: 'not a port' };
    const verbose = await runKmc(['run', 'overdue', '--dry-run', '--verbose'], settings);
    expect(verbose.code).to.equal(2);
    expect(verbose.stderr).to.match(/^SettingsError: KMC_PORT: /m);
    expect(verbose.stderr).to.match(/\bat .*sidecar[\\/]config[\\/]settings\.ts:\d+:\d+/);
    const quiet = await runKmc(['run', 'overdue', '--dry-run'], settings);
    expect(quiet.code).to.equal(2);
    expect(quiet.stderr.trim().split('\n')).to.deep.equal([
      `kmc: KMC_PORT: must be a port number from 0 to 65535, got "not a port" [KMC_SETTINGS_INVALID]`,
    ]);
  });
});
