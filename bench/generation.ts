/**
 * Generation: the whole `node bin/kmc run overdue` process against the bare
 * candidate SELECT (the same SQL, streamed by bench/bare/select.mjs) and
 * against Koha's per-patron pattern (bench/bare/koha-style.mjs), in turn.
 */
import type { Knex } from 'knex';
import { EFFECTIVE_ITYPE_SQL, loansDueBefore } from '../sidecar/host/queries';
import { addDays } from '../sidecar/rendering/dates';
import type { BenchContext } from './context';
import { inTurn, peak, ratios, seconds, spread, times, timeNode, type SectionResult } from './measure';

/** The candidates' SELECT exactly as the run streams it. */
function candidateSql(knex: Knex, dueBefore: string): string {
  return loansDueBefore(knex, dueBefore)
    .leftJoin({ t: 'itemtypes' }, (j) => void j.on('t.itemtype', '=', knex.raw(EFFECTIVE_ITYPE_SQL)))
    .select('t.defaultreplacecost')
    .toQuery();
}

async function smallestDelay(ctx: BenchContext, level: number): Promise<number | null> {
  const used = (await ctx.app.rules.forType('overdue', level)).filter((r) => r.is_used);
  return used.length ? Math.min(...used.map((r) => r.delay_days)) : null;
}

async function level1Delay(ctx: BenchContext): Promise<number> {
  const minDelay = await smallestDelay(ctx, 1);
  if (minDelay === null) throw new Error('the seeded library has no overdue rule of level 1');
  return minDelay;
}

/** The SQL of the overdue run's candidates on the bench's "today". */
export async function generationSql(ctx: BenchContext): Promise<string> {
  return candidateSql(ctx.knex, `${addDays(ctx.today, -(await level1Delay(ctx)) + 1)} 00:00:00`);
}

export async function generationSection(ctx: BenchContext): Promise<SectionResult> {
  const delays: number[] = [await level1Delay(ctx)];
  for (const level of [2, 3]) {
    const d = await smallestDelay(ctx, level);
    if (d !== null) delays.push(d);
  }
  const sql = await generationSql(ctx);
  const notices = new Set<number>();
  const candidates = new Set<number>();

  const runs = await inTurn(ctx.pairs, {
    select: async () => {
      await ctx.settle();
      const r = await timeNode(['bench/bare/select.mjs', ctx.databaseUrl], { ...process.env, KMC_BENCH_SQL: sql });
      candidates.add((JSON.parse(r.stdout) as { rows: number }).rows);
      return r;
    },
    kmc: async () => {
      await ctx.clearMessages();
      await ctx.settle();
      const r = await timeNode(['bin/kmc', 'run', 'overdue', '--date', ctx.today, '--json'], ctx.kmcEnv(ctx.smscSlow));
      notices.add((JSON.parse(r.stdout) as { created: number }).created);
      return r;
    },
  });
  // Koha's pattern is the user's alternative, not a figure to reach: one run, it takes minutes.
  let koha: Awaited<ReturnType<typeof timeNode>> | null = null;
  if (!ctx.withoutKoha) {
    await ctx.settle();
    koha = await timeNode(['bench/bare/koha-style.mjs', ctx.databaseUrl, ctx.today, delays.join(',')], process.env);
  }
  // Every run works on the same loans: a different count means something else wrote to the database meanwhile.
  if (candidates.size !== 1) throw new Error(`the bare SELECTs found different numbers of candidates: ${[...candidates].join(', ')}`);
  if (notices.size !== 1) ctx.log(`the runs made different numbers of notices: ${[...notices].join(', ')}`);
  const made = Math.max(...notices);
  const [rows] = candidates;
  ctx.log(`${rows} candidates, ${made} notices a run`);

  const kmc = spread(runs.kmc.map((r) => r.ms));
  const ratio = ratios(runs.kmc, runs.select, (a, b) => a.ms / b.ms);
  const aim = ctx.small ? 2 : 1.5;
  const rss = peak(runs.kmc);
  const misses: string[] = [];
  if (ratio.median > aim) misses.push(`generation is ${ratio.median.toFixed(2)}× the bare SELECT at ${ctx.loans} loans (aim ≤ ${aim}×)`);
  if (rss >= 200) misses.push(`kmc run overdue peaks at ${rss} MB RSS (aim < 200 MB)`);
  return {
    rows: [
      {
        what: `kmc run overdue vs bare SELECT (${ctx.loans.toLocaleString('en')} loans, ${rows.toLocaleString('en')} candidates, ${made.toLocaleString('en')} notices)`,
        kmc: seconds(kmc),
        baseline: seconds(spread(runs.select.map((r) => r.ms))),
        ratio: times(ratio),
        rss: `${rss} / ${peak(runs.select)} MB`,
        aim: `≤ ${aim}×, < 200 MB`,
        met: ratio.median <= aim && rss < 200,
      },
      ...(koha
        ? [
            {
              what: `Koha's per-patron pattern (overdue_notices.pl's shape) vs kmc run overdue`,
              kmc: seconds(kmc),
              baseline: `${(koha.ms / 1000).toFixed(2)} s (one run)`,
              ratio: `Koha-style takes ${(koha.ms / kmc.median).toFixed(2)}×`,
              rss: `${koha.rssMb} MB`,
              aim: 'the user’s alternative',
              met: null,
            },
          ]
        : []),
    ],
    misses,
    figures: {
      loans: ctx.loans,
      candidates: rows,
      notices: made,
      kmcMs: runs.kmc.map((r) => Math.round(r.ms)),
      selectMs: runs.select.map((r) => Math.round(r.ms)),
      kohaMs: koha ? Math.round(koha.ms) : null,
      kmcRssMb: runs.kmc.map((r) => r.rssMb),
    },
  };
}
