/**
 * `npm run bench`: builds a consortium-sized Koha data set (about 200,000
 * patrons, 1,000,000 items, 500,000 loans of which over 100,000 overdue)
 * with the project's seeder into a scratch database, then measures each
 * section in a fresh child process, so peak memory is the measurement's own
 * and not the seeder's. `npm run bench -- --small` does the same at about a
 * tenth of the size, in well under a minute.
 *
 *   --small     the quick version
 *   --keep      keep the database afterwards (and reuse it next time with --reuse)
 *   --reuse     measure on the database a previous --keep left
 *   --only S    run one section
 *
 * Sections live in their own files and are listed in SECTIONS below: each
 * gets the services of the sidecar on the seeded database and returns its
 * figures. KMC_BENCH_DATABASE_URL names the database (default
 * mysql://root@127.0.0.1:3306/kmc_bench); only a database whose name starts
 * with kmc_bench is ever dropped.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { loadSettings } from '../sidecar/config';
import { createKnex, migrate } from '../sidecar/db';
import { messageOfError } from '../sidecar/errors';
import { createKohaFixtureSchema, seedLibrary } from '../sidecar/fixture';
import { createLogger } from '../sidecar/logging';
import { createApp, type App } from '../sidecar/main';
import { generationSection } from './generation';
import { printDeliveryBench, runDeliveryBench } from './delivery';

export interface BenchContext {
  services: App;
  knex: Knex;
  /** The seeded library's "today". */
  today: string;
  small: boolean;
  log: (line: string) => void;
}

export interface BenchSection {
  name: string;
  run(ctx: BenchContext): Promise<Record<string, unknown>>;
}

/** The sections, in the order they run. A new one is a file of its own and a line here. */
export const SECTIONS: BenchSection[] = [
  {
    name: 'generation',
    run: (ctx) => generationSection(ctx.services, ctx.knex, ctx.today, ctx.log) as unknown as Promise<Record<string, unknown>>,
  },
  // Its own small database (kmc_bench_delivery), SMTP server and SMSC: delivery does not depend on the library's size.
  {
    name: 'delivery',
    run: (ctx) =>
      runDeliveryBench({ emails: ctx.small ? 1000 : 3000, sms: ctx.small ? 2000 : 5000, out: ctx.log }) as unknown as Promise<
        Record<string, unknown>
      >,
  },
];

const TODAY = '2026-11-24';
const SIZES = {
  full: { patrons: 200_000, biblios: 500_000, itemsPerBiblio: 2, loans: 500_000, overdueShare: 0.25, holds: 20_000 },
  small: { patrons: 20_000, biblios: 50_000, itemsPerBiblio: 2, loans: 50_000, overdueShare: 0.25, holds: 2_000 },
};

function databaseUrl(): { url: string; name: string; server: string } {
  const url = process.env.KMC_BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/kmc_bench';
  const u = new URL(url);
  const name = u.pathname.replace(/^\//, '');
  if (!/^kmc_bench[a-z0-9_]*$/.test(name))
    throw new Error(`KMC_BENCH_DATABASE_URL: the bench only builds a database named kmc_bench…, not "${name}"`);
  u.pathname = '/';
  return { url, name, server: u.toString() };
}

async function buildDataSet(small: boolean, log: (s: string) => void): Promise<void> {
  const { url, name, server } = databaseUrl();
  const admin = knexFactory({ client: 'mysql2', connection: server, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.destroy();
  }
  const knex = createKnex(url, { poolMax: 4 });
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
    log(
      `seeded in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${summary.patrons} patrons, ${summary.items} items, ${summary.loans} loans, ${summary.overdueLoans} overdue, ${summary.holdsWaiting} holds waiting`,
    );
  } finally {
    await knex.destroy();
  }
}

async function dropDataSet(): Promise<void> {
  const { name, server } = databaseUrl();
  const admin = knexFactory({ client: 'mysql2', connection: server, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await admin.destroy();
  }
}

/** The child: measures the sections on the seeded database and hands the figures to the parent. */
async function measure(small: boolean, only: string | undefined): Promise<void> {
  const { url } = databaseUrl();
  const printDir = mkdtempSync(path.join(os.tmpdir(), 'kmc-bench-print-'));
  const settings = loadSettings({ ...process.env, KMC_DATABASE_URL: url, KMC_LOG_LEVEL: 'error', KMC_PRINT_DIR: printDir });
  const services = createApp(settings, { logger: createLogger('error') });
  const results: Record<string, unknown> = {};
  try {
    for (const section of SECTIONS) {
      if (only && section.name !== only) continue;
      const log = (line: string) => process.stderr.write(`[${section.name}] ${line}\n`);
      results[section.name] = await section.run({ services, knex: services.knex, today: TODAY, small, log });
    }
  } finally {
    await services.close();
    rmSync(printDir, { recursive: true, force: true });
  }
  process.send?.({ results });
}

function printGeneration(f: Record<string, unknown>, out: (s: string) => void): void {
  const n = (k: string) => Number(f[k]);
  out('');
  out('  overdue notices, from the same run          ');
  out('  ------------------------------------------------------------');
  out(`  candidates (loans overdue >= level-1 delay)  ${n('candidates').toLocaleString('en')}`);
  out(
    `  bare SELECT, cold / warm                     ${(n('selectColdMs') / 1000).toFixed(2)} s / ${(n('selectWarmMs') / 1000).toFixed(2)} s`,
  );
  out(
    `  generate and queue all notices               ${(n('generateMs') / 1000).toFixed(2)} s  (${n('ratio')} x the warm SELECT; aim <= 2)`,
  );
  out(`  notices made                                 ${n('notices').toLocaleString('en')}  (${JSON.stringify(f.byChannel)})`);
  out(`  notices per second                           ${n('noticesPerSecond').toLocaleString('en')}`);
  out(`  peak RSS of the measuring process            ${n('peakRssMb')} MB  (aim < 300 MB)`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      small: { type: 'boolean' },
      keep: { type: 'boolean' },
      reuse: { type: 'boolean' },
      only: { type: 'string' },
      measure: { type: 'boolean' },
    },
  });
  const small = !!values.small;
  if (values.measure) return measure(small, values.only);

  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (!values.reuse) await buildDataSet(small, log);
  try {
    // A fresh process for the measurement: its peak memory is the sections' own.
    // A section left out with --only is absent.
    const results = await new Promise<Partial<Record<string, Record<string, unknown>>>>((resolve, reject) => {
      const child = fork(__filename, ['--measure', ...(small ? ['--small'] : []), ...(values.only ? ['--only', values.only] : [])], {
        execArgv: process.execArgv,
        stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      });
      let got: Record<string, Record<string, unknown>> | null = null;
      child.on('message', (m: { results?: Record<string, Record<string, unknown>> }) => {
        if (m.results) got = m.results;
      });
      child.on('exit', (code) => {
        if (code === 0 && got) resolve(got);
        else reject(new Error(`the measuring process ended with code ${code}`));
      });
    });
    const out = (s: string) => process.stdout.write(`${s}\n`);
    out(`== bench (${small ? 'small' : 'full'}) on ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
    if (results.generation) printGeneration(results.generation, out);
    if (results.delivery) printDeliveryBench(results.delivery, out);
    out('');
    out(JSON.stringify(results));
  } finally {
    if (!values.keep) await dropDataSet();
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
