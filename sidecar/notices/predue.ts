/**
 * Pre-due reminders: N days before a loan is due (0 = on the due day), one
 * per loan, never twice. Patrons ask for them in Koha: Advance_Notice (with
 * days_in_advance and wants_digest) or Item_Due (the due day itself); the
 * rule says whether the library sends them at all and by which channels.
 * A run that was missed catches up the next day, still before the due date.
 */
import type { LoanCandidate, MessagingChoice } from '../host';
import { addDays, daysBetween } from '../kernel';
import { allowedChannels } from '../contact';
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
import { loanUnit } from './overdue';
import type { RunStats } from './runs';
import { cutLongValues, firstImpossibleDate } from './records';

const MAX_DAYS_AHEAD = 60;

export async function generatePredue(deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const rules = await rulesWithBaseline(deps, 'predue');
  const used = rules.filter((r) => r.is_used);
  if (!used.length) return;
  const asked = (await deps.host.maxDaysInAdvance('Advance_Notice')) ?? 0;
  const ahead = Math.min(MAX_DAYS_AHEAD, Math.max(asked, ...used.map((r) => r.delay_days)));
  const ctx = await RunContext.load(deps, args);
  const composer = new Composer(ctx, 'predue', (units, c) => ({
    days_left: daysBetween(c.args.runDate, (units[0].item.dateDue ?? c.args.runDate).slice(0, 10)),
  }));

  const rows = deps.host.streamLoans({ dueFrom: `${args.runDate} 00:00:00`, dueBefore: `${addDays(args.runDate, ahead + 1)} 00:00:00` });
  await runBatches(
    rows,
    async (patrons) => {
      const choices = await deps.host.messagingChoices(
        patrons.map((p) => p[0].borrowernumber),
        ['Advance_Notice', 'Item_Due'],
      );
      const units: Unit[] = [];
      for (const row of patrons.flat()) {
        const loan = cutLongValues(row);
        const ruleBranch = ctx.loanRuleBranch(loan);
        const outside = ctx.outOfScope({ branchcode: ruleBranch, categorycode: loan.categorycode, itemtype: loan.itype });
        if (outside) {
          skip(stats, outside);
          continue;
        }
        const bad = firstImpossibleDate({ date_due: loan.date_due }, ['date_due']);
        if (bad) {
          skipRecord(stats, { reason: 'impossible_date', borrowernumber: loan.borrowernumber, issueId: loan.issue_id, ...bad });
          continue;
        }
        const rule = resolveRule(rules, ctx.subject(ruleBranch, loan.categorycode, loan.itype));
        if (!rule || !rule.is_used) {
          skip(stats, 'type_not_used');
          continue;
        }
        const mine = choices.get(loan.borrowernumber);
        const pick = choose(mine?.get('Advance_Notice'), mine?.get('Item_Due'), rule.delay_days);
        if (!pick) {
          skip(stats, 'patron_did_not_ask');
          continue;
        }
        if (daysBetween(args.runDate, loan.date_due.slice(0, 10)) > pick.days) {
          skip(stats, 'not_yet_due_for_notice');
          continue;
        }
        const channels = allowedChannels(rule.channels, pick.transports);
        if (!channels.length) {
          skip(stats, 'patron_channels_not_allowed');
          continue;
        }
        units.push(predueUnit(ctx, loan, rule, channels, pick.digest));
      }
      return composer.compose(units, stats);
    },
    sink,
  );
}

/** Advance_Notice wins over Item_Due: one reminder per loan. A choice without transports is none. */
function choose(advance: MessagingChoice | undefined, due: MessagingChoice | undefined, defaultDays: number) {
  if (advance && advance.transports.length) {
    return { days: advance.daysInAdvance ?? defaultDays, digest: advance.wantsDigest, transports: advance.transports };
  }
  if (due && due.transports.length) return { days: 0, digest: due.wantsDigest, transports: due.transports };
  return null;
}

function predueUnit(
  ctx: RunContext,
  loan: LoanCandidate,
  rule: Parameters<typeof loanUnit>[2],
  channels: Unit['channels'],
  digest: boolean,
): Unit {
  const unit = loanUnit(ctx, loan, rule, 0, coverageKey('predue', 0, 'issue', loan.issue_id));
  // The patron's wants_digest decides here, not the rule: it is the patron's reminder.
  return { ...unit, channels, digestKey: digest ? `rule:${rule.id}` : null };
}
