/**
 * Pre-due reminders: N days before a loan is due (0 = on the due day), one
 * per loan, never twice. Patrons ask for them in Koha: Advance_Notice (with
 * days_in_advance and wants_digest) or Item_Due (the due day itself); the
 * rule says whether the library sends them at all and by which channels.
 * A run that was missed catches up the next day, still before the due date.
 * A reminder covers one due date: a renewal re-arms it. A patron who asked
 * for both gets both, as in Koha: the advance one before the due day, the
 * due-day one on it. An hourly loan whose due time has passed gets none, and
 * a later run the same day picks up a loan due today that was checked out
 * after the morning run. A loan checked out (or renewed) after the day its
 * advance reminder was due (shorter than the advance days) is reminded no
 * earlier than Koha would: Koha sends the advance notice only on that day,
 * so such a loan's reminder comes on its due day.
 */
import type { LoanCandidate, MessagingChoice } from '../host';
import { addDays, daysBetween, libraryTime, runMoment } from '../kernel';
import { allowedChannels } from '../contact';
import type { NoticeDeps } from './context';
import {
  Composer,
  RunContext,
  loanCoverageKey,
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

  const moment = runMoment(args.runDate, ctx.now, deps.settings.timezone);
  // A run for a day gone by (catch-up) still never reminds of a due time that has passed by now.
  const nowTime = libraryTime(ctx.now, deps.settings.timezone);
  const passed = moment > nowTime ? moment : nowTime;
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
        const daysLeft = daysBetween(args.runDate, loan.date_due.slice(0, 10));
        const pick = choose(mine?.get('Advance_Notice'), mine?.get('Item_Due'), rule.delay_days, daysLeft, lentDaysBeforeDue(loan));
        if (pick === 'not_asked') {
          skip(stats, 'patron_did_not_ask');
          continue;
        }
        if (pick === 'not_yet') {
          skip(stats, 'not_yet_due_for_notice');
          continue;
        }
        if (loan.date_due <= passed) {
          skip(stats, 'due_time_passed');
          continue;
        }
        const channels = allowedChannels(rule.channels, pick.transports);
        if (!channels.length) {
          skip(stats, 'patron_channels_not_allowed');
          continue;
        }
        units.push(predueUnit(ctx, loan, rule, channels, pick));
      }
      return composer.compose(units, stats);
    },
    sink,
  );
}

interface ReminderPick {
  digest: boolean;
  transports: string[];
  /** The due-day reminder of a patron who also asked for the advance one. */
  dueDay: boolean;
}

/**
 * Which reminder a loan gets on this run, `daysLeft` before its due day. A
 * choice without transports is none. With both asked for, the due day is the
 * due-day reminder's and the days before it the advance one's; with one, it
 * covers the whole window up to the due day (a missed run catches up).
 */
export function choose(
  advance: MessagingChoice | undefined,
  due: MessagingChoice | undefined,
  defaultDays: number,
  daysLeft: number,
  lentDays: number | null = null,
): ReminderPick | 'not_asked' | 'not_yet' {
  const a = advance?.transports.length ? advance : null;
  const d = due?.transports.length ? due : null;
  if (!a && !d) return 'not_asked';
  const asked = a ? (a.daysInAdvance ?? defaultDays) : 0;
  // Lent after its advance day: Koha never sends that one, so the reminder waits for the due day (the due-day one, if asked).
  const short = !!a && lentDays !== null && lentDays < asked;
  const days = short ? 0 : asked;
  if (daysLeft > days) return 'not_yet';
  if (a && !(d && daysLeft === 0 && (days > 0 || short))) return { digest: a.wantsDigest, transports: a.transports, dueDay: false };
  if (d) return { digest: d.wantsDigest, transports: d.transports, dueDay: !!a };
  return 'not_yet';
}

/** Whole library days from the loan's checkout (or last renewal) to its due day; null when Koha does not say. */
function lentDaysBeforeDue(loan: LoanCandidate): number | null {
  const from = [loan.issuedate, loan.lastreneweddate]
    .filter((d): d is string => !!d && /^\d{4}-\d{2}-\d{2}/.test(d))
    .sort()
    .pop();
  return from ? daysBetween(from.slice(0, 10), loan.date_due.slice(0, 10)) : null;
}

function predueUnit(
  ctx: RunContext,
  loan: LoanCandidate,
  rule: Parameters<typeof loanUnit>[2],
  channels: Unit['channels'],
  pick: ReminderPick,
): Unit {
  const key = loanCoverageKey('predue', 0, loan.issue_id, loan.date_due, pick.dueDay ? 'day' : undefined);
  const unit = loanUnit(ctx, loan, rule, 0, key);
  // An hourly loan's reminder says by what time it is due.
  const time = loan.date_due.slice(11, 16);
  const line =
    unit.line && time && time !== '23:59' ? { ...unit.line, due: `${String(unit.line.due)} ${time}`, due_time: time } : unit.line;
  // The patron's wants_digest decides here, not the rule: it is the patron's reminder.
  return { ...unit, line, channels, digestKey: pick.digest ? `rule:${rule.id}` : null };
}
