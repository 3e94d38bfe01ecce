/**
 * Welcome messages to patrons added since the last welcome run
 * (borrowers.dateenrolled). The first run ever greets only the patrons
 * enrolled on its day, so installing the sidecar does not greet everyone.
 * A patron is greeted once: the coverage key `welcome:0:patron:N`.
 */
import type { NewPatron } from '../host';
import type { Rule } from '../rules';
import type { NoticeDeps } from './context';
import {
  Composer,
  RunContext,
  coverageKey,
  resolveRule,
  rulesWithBaseline,
  runBatches,
  skip,
  skipRecord,
  type GenerateArgs,
  type MessageSink,
  type Unit,
} from './engine';
import type { RunStats } from './runs';
import { cutLongValues, firstImpossibleDate } from './records';

/** The day of the last finished welcome run that stored its messages, or null. */
export async function lastWelcomeDay(deps: Pick<NoticeDeps, 'runs'>, before: string): Promise<string | null> {
  return deps.runs.lastFinishedDay('welcome', before);
}

export async function generateWelcome(deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const rules = await rulesWithBaseline(deps, 'welcome');
  if (!rules.some((r) => r.is_used)) return;
  const ctx = await RunContext.load(deps, args);
  const composer = new Composer(ctx, 'welcome');
  // From the last run's day on (not after it): patrons enrolled later that same day are still new.
  const from = (await lastWelcomeDay(deps, args.runDate)) ?? args.runDate;

  await runBatches(
    deps.host.streamNewPatrons({ from, to: args.runDate }),
    async (patrons) => {
      const units: Unit[] = [];
      for (const row of patrons.flat()) {
        const patron = cutLongValues(row);
        const outside = ctx.outOfScope({ branchcode: patron.branchcode, categorycode: patron.categorycode, itemtype: null });
        if (outside) {
          skip(stats, outside);
          continue;
        }
        const bad = firstImpossibleDate({ dateenrolled: patron.dateenrolled });
        if (bad) {
          skipRecord(stats, { reason: 'impossible_date', borrowernumber: patron.borrowernumber, ...bad });
          continue;
        }
        const rule = resolveRule(rules, ctx.subject(patron.branchcode, patron.categorycode, null));
        if (!rule || !rule.is_used) {
          skip(stats, 'type_not_used');
          continue;
        }
        units.push(welcomeUnit(patron, rule));
      }
      return composer.compose(units, stats);
    },
    sink,
  );
}

function welcomeUnit(patron: NewPatron, rule: Rule): Unit {
  return {
    patron,
    rule,
    level: 0,
    coverage: coverageKey('welcome', 0, 'patron', patron.borrowernumber),
    channels: rule.channels,
    digestKey: null,
    sendingBranch: patron.branchcode,
    item: {},
    line: null,
  };
}
