/**
 * Generation speed: the bare SELECT of the overdue candidates next to the
 * whole overdue run over the same rows (rules, levels, channels, rendering,
 * storing in batches), from the same process, with its peak memory.
 */
import type { Knex } from 'knex';
import type { App } from '../sidecar/main';
import { runNotices } from '../sidecar/notices';
import { addDays } from '../sidecar/rendering/dates';

export interface GenerationFigures {
  candidates: number;
  /** The bare SELECT, first read (cold buffer pool) and again (warm). */
  selectColdMs: number;
  selectWarmMs: number;
  generateMs: number;
  notices: number;
  skipped: number;
  noticesPerSecond: number;
  /** generateMs / selectWarmMs: the aim is 2 or less. */
  ratio: number;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  peakRssMb: number;
}

/** Streams every overdue candidate and counts them: what generation cannot be faster than. */
async function bareSelect(services: App, dueBefore: string): Promise<{ rows: number; ms: number }> {
  const started = process.hrtime.bigint();
  let rows = 0;
  for await (const _ of services.host.streamLoans({ dueBefore })) rows += 1;
  return { rows, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/**
 * Waits (up to 20 s) until InnoDB has caught up with earlier writes: the
 * undo of a delete purged, dirty pages flushed (after seeding, or the delete
 * of a previous run's messages on a kept database). Otherwise that
 * background work runs during, and is measured as part of, what follows.
 * Needs the PROCESS privilege; without it, measures at once.
 */
async function settled(knex: Knex, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < 40; i += 1) {
    const [status] = (await knex.raw('SHOW ENGINE INNODB STATUS').catch(() => [[]])) as [Array<{ Status: string }>];
    const undo = Number(/History list length (\d+)/.exec(status[0]?.Status ?? '')?.[1] ?? 0);
    const [dirtyRows] = (await knex.raw("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'").catch(() => [[]])) as [
      Array<{ Value: string }>,
    ];
    const dirty = Number(dirtyRows[0]?.Value ?? 0);
    if (undo < 1000 && dirty < 1000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const waited = Date.now() - started;
  if (waited > 1000) log(`waited ${(waited / 1000).toFixed(1)} s for InnoDB to purge and flush earlier writes`);
}

export async function generationSection(services: App, knex: Knex, today: string, log: (line: string) => void): Promise<GenerationFigures> {
  const level1 = (await services.rules.forType('overdue', 1)).filter((r) => r.is_used);
  const minDelay = Math.min(...level1.map((r) => r.delay_days));
  const dueBefore = `${addDays(today, -minDelay + 1)} 00:00:00`;

  await settled(knex, log);
  const cold = await bareSelect(services, dueBefore);
  log(`bare SELECT (cold): ${cold.rows} rows in ${cold.ms.toFixed(0)} ms`);
  const warm = await bareSelect(services, dueBefore);
  log(`bare SELECT (warm): ${warm.rows} rows in ${warm.ms.toFixed(0)} ms`);

  await knex('kmc_messages').delete();
  await settled(knex, log);
  const started = process.hrtime.bigint();
  const result = await runNotices(services.notices, { type: 'overdue', date: today, startedBy: 'bench' });
  const generateMs = Number(process.hrtime.bigint() - started) / 1e6;
  log(`generate and queue: ${result.created} notices in ${generateMs.toFixed(0)} ms`);

  return {
    candidates: warm.rows,
    selectColdMs: Math.round(cold.ms),
    selectWarmMs: Math.round(warm.ms),
    generateMs: Math.round(generateMs),
    notices: result.created,
    skipped: result.skipped,
    noticesPerSecond: Math.round(result.created / (generateMs / 1000)),
    ratio: Math.round((generateMs / warm.ms) * 100) / 100,
    byChannel: result.byChannel,
    byStatus: result.byStatus,
    // maxRSS is in kilobytes: the peak of this process, which did nothing but measure.
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
