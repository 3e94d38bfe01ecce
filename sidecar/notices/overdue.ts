/**
 * Overdue notices, levels 1 to 5, and replacement bills. One streaming query
 * selects every loan overdue by at least the smallest level-1 delay; for
 * each batch of patrons one query reads what the sidecar already sent about
 * those loans. Level 1 counts its delay from the due date (and never covers
 * a loan not yet overdue at the moment of the run: hourly loans and a delay
 * of 0 are compared by date and time), each later level from the day the
 * level before it actually went out; a level not used for a loan stops it
 * and every later level. A loan is covered once per level and due date: the
 * coverage key in kmc_message_items makes that a database fact, and a
 * renewal that moves the due date starts the loan over at level 1. A loan
 * already overdue before the first overdue run gets the level Koha would
 * send at its age (KMC_FIRST_RUN_OVERDUE=koha), not level 1 and then each
 * level weeks apart.
 */
import type { LoanCandidate } from '../host';
import { OVERDUE_LEVELS, type OverdueRuleChain, type Rule } from '../rules';
import { addDays, runMoment } from '../kernel';
import { KmcError } from '../errors';
import type { NoticeDeps } from './context';
import {
  Composer,
  RunContext,
  coverageKey,
  firstRunDay,
  loanCoverageKey,
  loanHistory,
  resolveRule,
  rulesWithBaseline,
  runBatches,
  skip,
  skipRecord,
  smallestDelay,
  type GenerateArgs,
  type LevelRecord,
  type LoanHistory,
  type MessageSink,
  type Unit,
} from './engine';
import type { RunStats } from './runs';
import { cutLongValues, firstImpossibleDate } from './records';
import { OverdueCalendar } from './calendar';

export { coverageKey, idempotencyKey, emailStates, type GenerateArgs, type MessageSink } from './engine';

/** Kept for callers of the first version, which knew level 1 only. */
export const OVERDUE_LEVEL = 1;

async function overdueChainWithBaselines(deps: NoticeDeps): Promise<OverdueRuleChain> {
  const chain = await deps.rules.overdueChain();
  for (const level of OVERDUE_LEVELS) {
    if (!chain.rulesOf(level).some((r) => r.is_baseline)) {
      throw new KmcError('KMC_NO_BASELINE_RULE', `no baseline rule for overdue level ${level}; run \`kmc migrate\` to restore it`);
    }
  }
  return chain;
}

/** A loan as a unit of a notice: its template line and what kmc_message_items keeps. */
export function loanUnit(
  ctx: RunContext,
  loan: LoanCandidate,
  rule: Rule,
  level: number,
  coverage: string,
  extra: { amount?: number } = {},
): Unit {
  const amount = extra.amount;
  return {
    patron: loan,
    rule,
    level,
    coverage,
    channels: rule.channels,
    digestKey: rule.digest ? `rule:${rule.id}` : null,
    // The branch the notice speaks for, as the library chose for its type (the patron's home branch by default).
    sendingBranch: ctx.loanNoticeBranch(rule.message_type, loan),
    item: {
      issueId: loan.issue_id,
      itemnumber: loan.itemnumber,
      biblionumber: loan.biblionumber,
      barcode: loan.barcode,
      title: loan.biblio_title,
      author: loan.author,
      dateDue: loan.date_due,
      fee: Math.round(((amount ?? 0) + rule.fee_per_item) * 100) / 100,
    },
    line: {
      title: loan.biblio_title ?? '',
      author: loan.author ?? '',
      barcode: loan.barcode ?? '',
      callnumber: loan.itemcallnumber ?? '',
      due: ctx.date(loan.date_due),
      ...(amount !== undefined ? { price: amount, price_text: ctx.amount(amount) } : {}),
    },
    amount,
  };
}

/** Patron categories with overduenoticerequired = 0 get no overdue notices (and no bills), as in Koha. */
function categoryWantsNoNotices(loan: LoanCandidate): boolean {
  return loan.overduenoticerequired !== null && loan.overduenoticerequired === 0;
}

export async function generateOverdue(deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const chain = await overdueChainWithBaselines(deps);
  const minDelay = smallestDelay(chain.rulesOf(1), args.runDate);
  if (minDelay === null) return;
  if (args.level != null && !(args.level >= 1 && args.level <= 5)) {
    throw new KmcError('KMC_BAD_LEVEL', `overdue notices have levels 1 to 5, not ${args.level}`);
  }
  const [ctx, calendar] = await Promise.all([RunContext.load(deps, args), OverdueCalendar.load(deps.host)]);
  const composer = new Composer(ctx, 'overdue');
  // Open days are never more than calendar days, so this bound holds with Koha's calendar too.
  const dueBefore = `${addDays(args.runDate, -minDelay + 1)} 00:00:00`;
  const moment = runMoment(args.runDate, ctx.now, deps.settings.timezone);
  // Installing on a live library: a loan overdue before the first run gets the level Koha would send at its age.
  const kohaLevelsBefore = (deps.settings.firstRun?.overdue ?? 'koha') === 'koha' ? await firstRunDay(deps, 'overdue', ctx.now) : null;

  await runBatches(
    deps.host.streamLoans({ dueBefore }),
    {
      prepare: (patrons) => loansWithHistory(deps, ctx, calendar, patrons, stats),
      decide: async (_patrons, { loans, history }) => {
        const units: Unit[] = [];
        for (const loan of loans) {
          const subject = ctx.subject(ctx.loanRuleBranch(loan), loan.categorycode, loan.itype);
          const sent = history.get(loan.issue_id)?.levels ?? new Map<number, LevelRecord>();
          const current = sent.size ? Math.max(...sent.keys()) : 0;
          const dueDay = loan.date_due.slice(0, 10);
          const atAge =
            !current && kohaLevelsBefore && dueDay < kohaLevelsBefore
              ? chain.levelAtAge(subject, calendar.daysBetween(calendar.branchFor(loan), dueDay, args.runDate))
              : null;
          if (atAge && atAge.level > 1) {
            if (args.level != null && atAge.level !== args.level) {
              skip(stats, 'other_level');
              continue;
            }
            units.push(loanUnit(ctx, loan, atAge.rule, atAge.level, loanCoverageKey('overdue', atAge.level, loan.issue_id, loan.date_due)));
            continue;
          }
          const next = current + 1;
          const rule = next <= 5 ? chain.levelRule(next, subject) : null;
          if (!rule) {
            skip(stats, current ? 'no_further_level' : 'level_not_used');
            continue;
          }
          if (!current && loan.date_due >= moment) {
            skip(stats, 'not_yet_due_for_notice');
            continue;
          }
          // A later level counts from the day the one before went out; while that one waits, so does this one.
          const from = current ? sent.get(current)?.wentOut : dueDay;
          if (!from) {
            // Notified at its current level, which has not gone out yet.
            skip(stats, 'already_notified');
            continue;
          }
          if (calendar.daysBetween(calendar.branchFor(loan), from, args.runDate) < rule.delay_days) {
            skip(stats, current ? 'already_notified' : 'not_yet_due_for_notice');
            continue;
          }
          if (args.level != null && next !== args.level) {
            skip(stats, 'other_level');
            continue;
          }
          units.push(loanUnit(ctx, loan, rule, next, loanCoverageKey('overdue', next, loan.issue_id, loan.date_due)));
        }
        // The history read with the loans is what tells which level is next, so coverage is known here.
        return composer.compose(units, stats, { coverageKnown: true });
      },
    },
    sink,
  );
}

/**
 * Replacement bills: after the last level used for a loan (counted from the
 * day that level was sent; from the due date when no level is used), a bill
 * for the item's replacement price (the item's own, else its item type's
 * default) plus the rule's fees, with the rule's payment term.
 */
export async function generateReplacementBills(deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const [chain, billRules] = await Promise.all([overdueChainWithBaselines(deps), rulesWithBaseline(deps, 'replacement_bill')]);
  const billDelay = smallestDelay(billRules, args.runDate);
  if (billDelay === null) return;
  const firstDelay = smallestDelay(chain.rulesOf(1), args.runDate);
  const minDelay = Math.min(billDelay, firstDelay ?? billDelay);
  const [ctx, calendar] = await Promise.all([RunContext.load(deps, args), OverdueCalendar.load(deps.host)]);
  const composer = new Composer(ctx, 'replacement_bill', (units, c) => {
    const rule = units[0].rule;
    const total = units.reduce((s, u) => s + (u.amount ?? 0), 0) + rule.fee_per_notice + rule.fee_per_item * units.length;
    return {
      total: Math.round(total * 100) / 100,
      total_text: c.amount(total),
      payment_term_days: rule.payment_term_days ?? 0,
      pay_by: c.date(addDays(c.args.runDate, rule.payment_term_days ?? 0)),
    };
  });
  const dueBefore = `${addDays(args.runDate, -minDelay + 1)} 00:00:00`;

  await runBatches(
    deps.host.streamLoans({ dueBefore }),
    {
      prepare: (patrons) => loansWithHistory(deps, ctx, calendar, patrons, stats),
      decide: async (_patrons, { loans, history }) => {
        const units: Unit[] = [];
        for (const loan of loans) {
          const subject = ctx.subject(ctx.loanRuleBranch(loan), loan.categorycode, loan.itype);
          const rule = resolveRule(billRules, subject);
          if (!rule || !rule.is_used) {
            skip(stats, 'type_not_used');
            continue;
          }
          const h = history.get(loan.issue_id);
          if (h?.types.has('replacement_bill')) {
            skip(stats, 'already_notified');
            continue;
          }
          const last = chain.lastUsedLevel(subject);
          const from = last ? h?.levels.get(last)?.wentOut : loan.date_due.slice(0, 10);
          if (!from) {
            skip(stats, 'overdue_levels_not_yet_sent');
            continue;
          }
          if (calendar.daysBetween(calendar.branchFor(loan), from, args.runDate) < rule.delay_days) {
            skip(stats, 'not_yet_due_for_notice');
            continue;
          }
          const own = Number(loan.replacementprice ?? 0);
          const amount = own > 0 ? own : Number(loan.defaultreplacecost ?? 0);
          units.push(loanUnit(ctx, loan, rule, 0, coverageKey('replacement_bill', 0, 'issue', loan.issue_id), { amount }));
        }
        return composer.compose(units, stats, { coverageKnown: true });
      },
    },
    sink,
  );
}

/**
 * A batch's loans in scope and what the sidecar already sent about them: one
 * query, read while the batch before is still being decided and written
 * (its patrons' loans are other loans, so its writes do not change this).
 */
async function loansWithHistory(
  deps: NoticeDeps,
  ctx: RunContext,
  calendar: OverdueCalendar,
  patrons: LoanCandidate[][],
  stats: RunStats,
): Promise<{ loans: LoanCandidate[]; history: Map<number, LoanHistory> }> {
  const loans = loansInScope(ctx, calendar, patrons, stats);
  return { loans, history: await loanHistory(deps.store, loans, deps.settings.timezone) };
}

/**
 * Overdue loans whose patron category takes overdue notices, that fall inside
 * the run's routine criteria, and whose branch is open today by Koha's calendar
 * (Koha's job makes no overdue notice of a branch on a day it is closed).
 */
function loansInScope(ctx: RunContext, calendar: OverdueCalendar, patrons: LoanCandidate[][], stats: RunStats): LoanCandidate[] {
  const loans: LoanCandidate[] = [];
  for (const row of patrons.flat()) {
    const loan = cutLongValues(row);
    if (categoryWantsNoNotices(loan)) {
      skip(stats, 'category_gets_no_overdue_notices');
      continue;
    }
    const outside = ctx.outOfScope({ branchcode: ctx.loanRuleBranch(loan), categorycode: loan.categorycode, itemtype: loan.itype });
    if (outside) {
      skip(stats, outside);
      continue;
    }
    const closed = calendar.closedToday(calendar.branchFor(loan), ctx.args.runDate);
    if (closed) {
      skip(stats, closed);
      continue;
    }
    const bad = firstImpossibleDate({ date_due: loan.date_due }, ['date_due']);
    if (bad) {
      skipRecord(stats, { reason: 'impossible_date', borrowernumber: loan.borrowernumber, issueId: loan.issue_id, ...bad });
      continue;
    }
    loans.push(loan);
  }
  return loans;
}
