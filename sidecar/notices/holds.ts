/**
 * Hold notices. `hold_waiting`: a hold is on the hold shelf (reserves.found
 * = 'W'); the notice comes from the pickup branch and names the last pickup
 * day (reserves.expirationdate). `hold_reminder`: N days (the rule's delay)
 * before a waiting hold expires on the shelf. Patrons choose the channels in
 * Koha (Hold_Filled, Hold_Reminder); without a choice the rule decides.
 * Holds already waiting before the first hold_waiting run are not told
 * again (Koha told them at check-in) unless staff ask: KMC_FIRST_RUN_HOLDS=notify,
 * or `kmc run hold_waiting --include-existing` for one run.
 */
import type { MessagingChoice, WaitingHold } from '../host';
import { daysBetween } from '../kernel';
import { allowedChannels } from '../contact';
import type { Rule } from '../rules';
import type { NoticeDeps } from './context';
import {
  Composer,
  RunContext,
  coverageKey,
  firstRunDay,
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

type HoldType = 'hold_waiting' | 'hold_reminder';

const KOHA_MESSAGE: Record<HoldType, string> = { hold_waiting: 'Hold_Filled', hold_reminder: 'Hold_Reminder' };

export const generateHoldWaiting = (deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink) =>
  generateHolds('hold_waiting', deps, args, stats, sink);
export const generateHoldReminder = (deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink) =>
  generateHolds('hold_reminder', deps, args, stats, sink);

async function generateHolds(type: HoldType, deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const rules = await rulesWithBaseline(deps, type);
  if (!rules.some((r) => r.is_used)) return;
  const ctx = await RunContext.load(deps, args);
  // Installing on a live library: holds already waiting before the first run were told by Koha at check-in.
  const existingBefore =
    type === 'hold_waiting' && !args.includeExisting && (deps.settings.firstRun?.holds ?? 'skip') === 'skip'
      ? await firstRunDay(deps, type, ctx.now)
      : null;
  const composer = new Composer(ctx, type, (units, c) => {
    const days = units
      .map((u) => u.line?.pickup_by_day as string)
      .filter(Boolean)
      .sort();
    return {
      pickup_branch: c.directory.branch(units[0].sendingBranch)?.branchname ?? '',
      last_pickup_day: days.length ? c.date(days[0]) : '',
    };
  });

  await runBatches(
    deps.host.streamWaitingHolds({ expiresFrom: args.runDate }),
    async (patrons) => {
      const choices = await deps.host.messagingChoices(
        patrons.map((p) => p[0].borrowernumber),
        [KOHA_MESSAGE[type]],
      );
      const units: Unit[] = [];
      for (const row of patrons.flat()) {
        const hold = cutLongValues(row);
        const ruleBranch = ctx.holdRuleBranch(hold);
        const outside = ctx.outOfScope({ branchcode: ruleBranch, categorycode: hold.categorycode, itemtype: hold.itype });
        if (outside) {
          skip(stats, outside);
          continue;
        }
        const bad = firstImpossibleDate({ waitingdate: hold.waitingdate, expirationdate: hold.expirationdate });
        if (bad) {
          skipRecord(stats, { reason: 'impossible_date', borrowernumber: hold.borrowernumber, reserveId: hold.reserve_id, ...bad });
          continue;
        }
        const rule = resolveRule(rules, ctx.subject(ruleBranch, hold.categorycode, hold.itype));
        if (!rule || !rule.is_used) {
          skip(stats, 'type_not_used');
          continue;
        }
        const expires = hold.expirationdate ? hold.expirationdate.slice(0, 10) : null;
        if (existingBefore && hold.waitingdate && hold.waitingdate.slice(0, 10) < existingBefore) {
          skip(stats, 'waiting_before_first_run');
          continue;
        }
        if (type === 'hold_waiting') {
          const since = hold.waitingdate ? hold.waitingdate.slice(0, 10) : args.runDate;
          if (daysBetween(since, args.runDate) < rule.delay_days) {
            skip(stats, 'not_yet_due_for_notice');
            continue;
          }
        } else {
          if (!expires) {
            skip(stats, 'no_last_pickup_day');
            continue;
          }
          if (daysBetween(args.runDate, expires) > rule.delay_days) {
            skip(stats, 'not_yet_due_for_notice');
            continue;
          }
        }
        const choice: MessagingChoice | undefined = choices.get(hold.borrowernumber)?.get(KOHA_MESSAGE[type]);
        const channels = allowedChannels(rule.channels, choice ? choice.transports : null);
        if (!channels.length) {
          skip(stats, 'patron_channels_not_allowed');
          continue;
        }
        units.push(holdUnit(ctx, type, hold, rule, channels, expires));
      }
      return composer.compose(units, stats);
    },
    sink,
  );
}

function holdUnit(
  ctx: RunContext,
  type: HoldType,
  hold: WaitingHold,
  rule: Rule,
  channels: Unit['channels'],
  expires: string | null,
): Unit {
  return {
    patron: hold,
    rule,
    level: 0,
    coverage: coverageKey(type, 0, 'hold', hold.reserve_id),
    channels,
    // Holds waiting at one pickup branch go in one message; the branch is part of the key.
    digestKey: rule.digest ? `rule:${rule.id}` : null,
    sendingBranch: hold.pickup_branchcode,
    item: {
      reserveId: hold.reserve_id,
      itemnumber: hold.itemnumber,
      biblionumber: hold.biblionumber,
      barcode: hold.barcode,
      title: hold.biblio_title,
      author: hold.author,
      dateDue: expires ? `${expires} 00:00:00` : null,
      fee: rule.fee_per_item,
    },
    line: {
      title: hold.biblio_title ?? '',
      author: hold.author ?? '',
      barcode: hold.barcode ?? '',
      callnumber: hold.itemcallnumber ?? '',
      pickup_by: ctx.date(expires),
      pickup_by_day: expires ?? '',
      waiting_since: ctx.date(hold.waitingdate ? hold.waitingdate : null),
    },
  };
}
