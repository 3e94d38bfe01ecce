/**
 * `npm run bench`: seeds a Koha library into a scratch database, then times
 * the built CLI as whole processes (start-up included) against bare
 * baselines that are whole processes too, A and B in turn over several
 * pairs, with the SMTP server and the SMSCs each in a process of their own.
 * Last, the staff pages' server times with the message table filled to size.
 * Prints a table (medians with min–max, peak RSS), the page timings and the
 * issue's figures it missed.
 *
 *   --small          125,000 loans (default 500,000)
 *   --pairs N        rounds of A and B (default 3)
 *   --database URL   the database to build (else KMC_BENCH_DATABASE_URL, else
 *                    mysql://root@127.0.0.1:3306/kmc_bench); only a name
 *                    starting with kmc_bench is ever dropped
 *   --keep           keep the database afterwards; --reuse measures on it
 *   --without-koha   leave out Koha's per-patron pattern (minutes at 500,000 loans)
 *   --only S[,S]     run these sections only (start-up, generation, delivery, end-to-end, pages)
 *
 * Needs the build (npm run build): it measures bin/kmc as installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { loadSettings } from '../sidecar/config';
import { createKnex, migrate } from '../sidecar/db';
import { messageOfError } from '../sidecar/errors';
import { createKohaFixtureSchema, seedLibrary } from '../sidecar/fixture';
import { createLogger } from '../sidecar/logging';
import { createApp } from '../sidecar/main';
import { clearMessages, settle, type BenchContext, type BenchSection } from './context';
import { deliverySection } from './delivery';
import { endToEndSection } from './end-to-end';
import { generationSection } from './generation';
import { pagesSection } from './pages';
import { startupSection } from './startup';
import { printTable, startServer, type SectionResult } from './measure';

/** The sections, in the order they run: a new one is a file of its own and a line here. */
export const SECTIONS: BenchSection[] = [
  { name: 'start-up', run: startupSection },
  { name: 'generation', run: generationSection },
  { name: 'delivery', run: deliverySection },
  { name: 'end-to-end', run: endToEndSection },
  // Last: it fills the message table to size and empties it again.
  { name: 'pages', run: pagesSection },
];

const TODAY = '2026-11-24';
const SMPP_WINDOW = 10;
const SIZES = {
  full: { patrons: 200_000, biblios: 500_000, itemsPerBiblio: 2, loans: 500_000, overdueShare: 0.25, holds: 20_000 },
  small: { patrons: 50_000, biblios: 125_000, itemsPerBiblio: 2, loans: 125_000, overdueShare: 0.25, holds: 5_000 },
};

function database(url: string): { url: string; name: string; server: string } {
  const u = new URL(url);
  const name = u.pathname.replace(/^\//, '');
  if (!/^kmc_bench[a-z0-9_]*$/.test(name))
    throw new Error(`--database / KMC_BENCH_DATABASE_URL: the bench only builds a database named kmc_bench…, not "${name}"`);
  u.pathname = '/';
  return { url, name, server: u.toString() };
}

async function buildDataSet(db: ReturnType<typeof database>, small: boolean, log: (s: string) => void): Promise<void> {
  const admin = knexFactory({ client: 'mysql2', connection: db.server, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS \`${db.name}\``);
    await admin.raw(`CREATE DATABASE \`${db.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.destroy();
  }
  const knex = createKnex(db.url, { poolMax: 4 });
  try {
    await createKohaFixtureSchema(knex);
    await migrate(knex);
    const size = small ? SIZES.small : SIZES.full;
    log(`seeding ${size.patrons} patrons, ${size.biblios * size.itemsPerBiblio} items, ${size.loans} loans …`);
    const summary = await seedLibrary(knex, {
      today: TODAY,
      ...size,
      onProgress: (m) => {
        log(`  ${m}`);
      },
    });
    log(`seeded in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${summary.loans} loans, ${summary.overdueLoans} overdue`);
  } finally {
    await knex.destroy();
  }
}

async function dropDataSet(db: ReturnType<typeof database>): Promise<void> {
  const admin = knexFactory({ client: 'mysql2', connection: db.server, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS \`${db.name}\``);
  } finally {
    await admin.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      small: { type: 'boolean' },
      keep: { type: 'boolean' },
      reuse: { type: 'boolean' },
      only: { type: 'string' },
      'without-koha': { type: 'boolean' },
      pairs: { type: 'string' },
      database: { type: 'string' },
    },
  });
  const small = !!values.small;
  const pairs = Number(values.pairs ?? 3);
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`--pairs takes a whole number, got "${values.pairs}"`);
  const only = values.only?.split(',') ?? null;
  for (const name of only ?? [])
    if (!SECTIONS.some((s) => s.name === name)) throw new Error(`--only: no section "${name}" (${SECTIONS.map((s) => s.name).join(', ')})`);
  const db = database(values.database ?? process.env.KMC_BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/kmc_bench');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' });
  if (!values.reuse) await buildDataSet(db, small, log);

  const printDir = mkdtempSync(path.join(os.tmpdir(), 'kmc-bench-print-'));
  const smtp = await startServer('smtp-sink.mjs');
  const smscInstant = await startServer('smsc.mjs', ['0']);
  const smscSlow = await startServer('smsc.mjs', ['2']);
  const app = createApp(loadSettings({ ...process.env, KMC_DATABASE_URL: db.url, KMC_LOG_LEVEL: 'error', KMC_PRINT_DIR: printDir }), {
    logger: createLogger('error'),
  });
  const results: Record<string, SectionResult> = {};
  // Other work on the machine shows in every figure: the load before and after is printed with them.
  const loadBefore = os.loadavg()[0];
  try {
    const [[version]] = (await app.knex.raw('SELECT VERSION() AS v, @@innodb_buffer_pool_size AS pool')) as [
      Array<{ v: string; pool: number | string }>,
    ];
    const [{ n: loanCount }] = await app.knex('issues').count<Array<{ n: number | string }>>({ n: '*' });
    const loans = Number(loanCount);
    const ctx: BenchContext = {
      databaseUrl: db.url,
      today: TODAY,
      small,
      loans,
      pairs,
      withoutKoha: !!values['without-koha'],
      smppWindow: SMPP_WINDOW,
      app,
      knex: app.knex,
      smtp,
      smscInstant,
      smscSlow,
      kmcEnv: (smsc) => ({
        ...process.env,
        KMC_DATABASE_URL: db.url,
        KMC_SMTP_URL: `smtp://127.0.0.1:${smtp.port}?tls=off`,
        KMC_SMPP_URL: `smpp://kmc:secret@127.0.0.1:${smsc.port}`,
        KMC_SMPP_WINDOW: String(SMPP_WINDOW),
        // The bench's SMSC sends no receipts: waiting for them would time the wait.
        KMC_SMS_RECEIPT_WAIT_SECONDS: '0',
        KMC_LOG_LEVEL: 'error',
        KMC_PRINT_DIR: printDir,
      }),
      clearMessages: () => clearMessages(app.knex),
      settle: () => settle(app.knex, log),
      log,
    };
    for (const section of SECTIONS) {
      if (only && !only.includes(section.name)) continue;
      log(`== ${section.name}`);
      results[section.name] = await section.run({ ...ctx, log: (line) => void log(`[${section.name}] ${line}`) });
    }
    const out = (s: string) => void process.stdout.write(`${s}\n`);
    out(
      `== bench at ${loans.toLocaleString('en')} loans, ${pairs} pairs, on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ` +
        `Node.js ${process.version}, MariaDB ${version.v} (buffer pool ${Math.round(Number(version.pool) / 2 ** 20)} MB), ` +
        `load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after`,
    );
    const rows = Object.values(results).flatMap((r) => r.rows);
    if (rows.length) printTable(rows, out);
    for (const r of Object.values(results)) for (const line of r.tables ?? []) out(line);
    const misses = Object.values(results).flatMap((r) => r.misses);
    out(misses.length ? `missed (${misses.length}):` : 'every figure of the issue measured here is met');
    for (const m of misses) out(`  - ${m}`);
    out(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.figures]))));
  } finally {
    await app.close();
    smtp.stop();
    smscInstant.stop();
    smscSlow.stop();
    rmSync(printDir, { recursive: true, force: true });
    if (!values.keep) await dropDataSet(db);
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench: ${messageOfError(err)}\n`);
      process.exit(1);
    },
  );
}
