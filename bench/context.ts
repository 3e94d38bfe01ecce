/**
 * What run.ts hands each section: the seeded database, the sidecar's services
 * (for reading rules and filling the queue, never for what is measured), the
 * servers in their own processes, and how to run the built CLI against them.
 */
import type { Knex } from 'knex';
import type { App } from '../sidecar/main';
import type { SectionResult, ServerProcess } from './measure';

export interface BenchContext {
  databaseUrl: string;
  /** The seeded library's "today". */
  today: string;
  small: boolean;
  loans: number;
  pairs: number;
  /** Leave out Koha's per-patron pattern (one run takes many minutes at 500,000 loans). */
  withoutKoha: boolean;
  smppWindow: number;
  app: App;
  knex: Knex;
  smtp: ServerProcess;
  /** An SMSC that answers each submit at once, and one that answers after 2 ms. */
  smscInstant: ServerProcess;
  smscSlow: ServerProcess;
  /** The environment of a `node bin/kmc …` process on the bench's database and servers. */
  kmcEnv(smsc: ServerProcess): NodeJS.ProcessEnv;
  /** Empties the message, run and event tables, so a run makes every notice again. */
  clearMessages(): Promise<void>;
  /** Waits until InnoDB has purged and flushed earlier writes, so that work is not measured as what follows. */
  settle(): Promise<void>;
  log(line: string): void;
}

export interface BenchSection {
  name: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/** The tables a run or a delivery writes, children first. */
const WRITTEN_TABLES = [
  'kmc_message_events',
  'kmc_message_items',
  'kmc_sms_receipts',
  'kmc_review_items',
  'kmc_review_messages',
  'kmc_run_approvals',
  'kmc_bounces',
  'kmc_messages',
  'kmc_runs',
];

export async function clearMessages(knex: Knex): Promise<void> {
  // TRUNCATE leaves no undo to purge (a DELETE of 100,000 rows would be purged during the next measurement).
  await knex.transaction(async (trx) => {
    await trx.raw('SET FOREIGN_KEY_CHECKS = 0');
    for (const t of WRITTEN_TABLES) await trx.raw('TRUNCATE TABLE ??', [t]);
    await trx.raw('SET FOREIGN_KEY_CHECKS = 1');
  });
}

export async function settle(knex: Knex, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  // At most 10 s: on a machine others write to, the dirty pages may never drop that low.
  for (let i = 0; i < 20; i += 1) {
    const [status] = (await knex.raw('SHOW ENGINE INNODB STATUS').catch(() => [[]])) as [Array<{ Status: string }>];
    const undo = Number(/History list length (\d+)/.exec(status[0]?.Status ?? '')?.[1] ?? 0);
    const [pages] = (await knex
      .raw("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')")
      .catch(() => [[]])) as [Array<{ Variable_name: string; Value: string }>];
    const page = (name: string) => Number(pages.find((p) => p.Variable_name === name)?.Value ?? 0);
    // A tenth of the pool dirty is what InnoDB keeps as it goes; more is earlier writes still on their way out.
    if (undo < 1000 && page('Innodb_buffer_pool_pages_dirty') <= page('Innodb_buffer_pool_pages_total') / 10) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const waited = Date.now() - started;
  if (waited > 1000) log(`waited ${(waited / 1000).toFixed(1)} s for InnoDB to purge and flush earlier writes`);
}
