/**
 * Generation speed: the bare SELECT of the overdue candidates next to the
 * whole overdue run over the same rows (rules, levels, channels, rendering,
 * storing in batches), from the same process, with its peak memory.
 */
import type { Knex } from 'knex';
import type { Services } from '../sidecar/main';
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
async function bareSelect(services: Services, dueBefore: string): Promise<{ rows: number; ms: number }> {
  const started = process.hrtime.bigint();
  let rows = 0;
  for await (const _ of services.host.streamLoans({ dueBefore })) rows += 1;
  return { rows, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

export async function generationSection(services: Services, knex: Knex, today: string, log: (line: string) => void): Promise<GenerationFigures> {
  const level1 = (await services.rules.forType('overdue', 1)).filter((r) => r.is_used);
  const minDelay = Math.min(...level1.map((r) => r.delay_days));
  const dueBefore = `${addDays(today, -minDelay + 1)} 00:00:00`;

  const cold = await bareSelect(services, dueBefore);
  log(`bare SELECT (cold): ${cold.rows} rows in ${cold.ms.toFixed(0)} ms`);
  const warm = await bareSelect(services, dueBefore);
  log(`bare SELECT (warm): ${warm.rows} rows in ${warm.ms.toFixed(0)} ms`);

  await knex('kmc_messages').delete();
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
