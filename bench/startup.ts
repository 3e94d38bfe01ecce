/**
 * Start-up: `kmc --help` and a notice run that finds nothing to do (a dry run
 * dated before any loan was due), as whole processes of the built CLI, beside
 * a bare `node -e 0` that shows what Node.js itself takes on this machine.
 * Aims: each under 300 ms and 80 MB.
 */
import type { BenchContext } from './context';
import { inTurn, peak, seconds, spread, timeNode, type ProcessRun, type SectionResult } from './measure';

const AIM_MS = 300;
const AIM_MB = 80;
/** Start-up is short: more rounds than the other sections for a steady median. */
const ROUNDS = 10;

export async function startupSection(ctx: BenchContext): Promise<SectionResult> {
  const env = ctx.kmcEnv(ctx.smscSlow);
  const runs = await inTurn(Math.max(ROUNDS, ctx.pairs), {
    node: () => timeNode(['-e', '0'], process.env),
    help: () => timeNode(['bin/kmc', '--help'], env),
    // No loan of the seeded library was due before 2000: the run reads its rules and finds nothing.
    noop: async () => {
      const run = await timeNode(['bin/kmc', 'run', 'overdue', '--date', '2000-01-03', '--dry-run', '--json'], env);
      const report = JSON.parse(run.stdout) as { created: number; skipped: number };
      if (report.created || report.skipped) throw new Error(`the no-op run found work: ${run.stdout}`);
      return run;
    },
  });
  const bare = spread(runs.node.map((r) => r.ms));
  const row = (what: string, rs: ProcessRun[]) => {
    const t = spread(rs.map((r) => r.ms));
    const rss = peak(rs);
    return {
      row: {
        what,
        kmc: seconds(t),
        baseline: `${seconds(bare)} (node -e 0)`,
        ratio: `+${Math.round(t.median - bare.median)} ms`,
        rss: `${rss} / ${peak(runs.node)} MB`,
        aim: `< ${AIM_MS} ms, < ${AIM_MB} MB`,
        met: t.median < AIM_MS && rss < AIM_MB,
      },
      miss:
        t.median < AIM_MS && rss < AIM_MB
          ? []
          : [`${what} takes ${Math.round(t.median)} ms and peaks at ${rss} MB (aim < ${AIM_MS} ms, < ${AIM_MB} MB)`],
    };
  };
  const help = row('start-up: kmc --help', runs.help);
  const noop = row('start-up: kmc run overdue that finds nothing (dry run)', runs.noop);
  return {
    rows: [help.row, noop.row],
    misses: [...help.miss, ...noop.miss],
    figures: {
      nodeMs: runs.node.map((r) => Math.round(r.ms)),
      helpMs: runs.help.map((r) => Math.round(r.ms)),
      noopMs: runs.noop.map((r) => Math.round(r.ms)),
      helpRssMb: runs.help.map((r) => r.rssMb),
      noopRssMb: runs.noop.map((r) => r.rssMb),
    },
  };
}
