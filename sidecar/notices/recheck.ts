/**
 * Never stale: a notice is checked against Koha once more at the last
 * moment, just before a worker hands it to a channel and when staff approve
 * it, since it may have waited (for approval, quiet hours, verification, a
 * closed day, a retry) while Koha moved on. An item returned since, a loan
 * renewed so it is no longer overdue (or, for a reminder, renewed past its
 * date), a hold picked up, cancelled or expired: that item is dropped and the
 * notice is rendered again without it, its history saying which and why;
 * a notice with nothing left is cancelled with the reason.
 *
 * Cheap on purpose: one read of the batch's items and one query to Koha per
 * batch, whatever its size; only a notice that changed costs more.
 */
import type { LoansAndHoldsNow } from '../host';
import { KmcError } from '../errors';
import { libraryDay, libraryTime, type MessageStatus } from '../kernel';
import type { MessageItemRow, MessageRow } from '../queue';
import { BranchDirectory, type NoticeDeps } from './context';
import { RunContext } from './engine';
import { contentFor, renderAgain, renderDataWithout } from './render-again';

/** The notice types whose items are loans or holds that Koha may have moved on from. */
const RECHECKED: ReadonlySet<string> = new Set(['overdue', 'replacement_bill', 'predue', 'hold_waiting', 'hold_reminder']);

export type StaleCause = 'returned' | 'renewed' | 'not_overdue' | 'due_time_passed' | 'hold_gone' | 'hold_not_waiting' | 'hold_expired';

/** How each cause is recorded in a message's history (stable English; the pages say it in the staff member's words). */
export const STALE_WORDS: Record<StaleCause, string> = {
  returned: 'returned since the notice was made',
  renewed: 'renewed since the notice was made',
  not_overdue: 'renewed since the notice was made, no longer overdue',
  due_time_passed: 'its due time has passed',
  hold_gone: 'hold picked up or cancelled since the notice was made',
  hold_not_waiting: 'hold no longer waiting for pickup',
  hold_expired: 'hold expired since the notice was made',
};

/** The head of the history line of a notice that lost some items, and of one cancelled with nothing left. */
export const ITEMS_DROPPED = 'items no longer current left out';
export const NOTHING_LEFT = 'nothing left to send';

/** Why one item of a notice is no longer current in Koha, or null when it still is. */
export function staleCause(
  messageType: string,
  item: Pick<MessageItemRow, 'issue_id' | 'reserve_id' | 'date_due'>,
  koha: LoansAndHoldsNow,
  at: { moment: string; today: string },
): StaleCause | null {
  if (item.issue_id !== null) {
    const due = koha.loans.get(item.issue_id);
    if (due === undefined) return 'returned';
    if (messageType === 'predue') {
      if (item.date_due && due !== item.date_due) return 'renewed';
      return due <= at.moment ? 'due_time_passed' : null;
    }
    // Overdue levels and bills: only a loan still overdue at this moment.
    return due >= at.moment ? 'not_overdue' : null;
  }
  if (item.reserve_id !== null) {
    const hold = koha.holds.get(item.reserve_id);
    if (!hold) return 'hold_gone';
    if (hold.found !== 'W') return 'hold_not_waiting';
    if (hold.expirationdate && hold.expirationdate < at.today) return 'hold_expired';
  }
  return null;
}

/** "returned since the notice was made: 3900012, 3900013; hold expired …": causes in a fixed order, items by barcode. */
function describe(gone: Array<{ item: MessageItemRow; cause: StaleCause }>): string {
  const parts: string[] = [];
  for (const cause of Object.keys(STALE_WORDS) as StaleCause[]) {
    const names = gone.filter((g) => g.cause === cause).map((g) => g.item.barcode || g.item.title || `item ${g.item.id}`);
    if (names.length) parts.push(`${STALE_WORDS[cause]}: ${names.join(', ')}`);
  }
  return parts.join('; ');
}

export interface RecheckOutcome {
  /** The messages that still go, those that changed with their new text. */
  kept: MessageRow[];
  /** Cancelled: nothing left that is still current. */
  cancelled: number[];
  /** Rendered again without items that are no longer current. */
  changed: number[];
  itemsDropped: number;
  /** Moved by someone else meanwhile (a worker's lost claim, a second approval): neither sent nor changed here. */
  lost: number[];
}

export type RecheckDeps = NoticeDeps;

export class NoticeRecheck {
  constructor(private readonly deps: RecheckDeps) {}

  /**
   * Checks messages against Koha now and applies what it finds: items no longer current are dropped (the
   * message rendered again without them), a message with nothing left is cancelled. Each message moves only
   * while it is still in the status it was read in (and, for a worker, still its claim).
   */
  async settle(messages: MessageRow[], opts: { actor: string; claimedBy?: string }): Promise<RecheckOutcome> {
    const outcome: RecheckOutcome = { kept: [], cancelled: [], changed: [], itemsDropped: 0, lost: [] };
    const checked = messages.filter((m) => RECHECKED.has(m.message_type));
    if (!checked.length) return { ...outcome, kept: messages };
    const { store, host, clock, settings } = this.deps;
    const items = await store.items(checked.map((m) => m.id));
    const koha = await host.loansAndHoldsNow({
      issueIds: items.flatMap((i) => (i.issue_id !== null ? [i.issue_id] : [])),
      reserveIds: items.flatMap((i) => (i.reserve_id !== null ? [i.reserve_id] : [])),
    });
    const now = clock.now();
    const at = { moment: libraryTime(now, settings.timezone), today: libraryDay(now, settings.timezone) };
    const byMessage = new Map<number, MessageItemRow[]>();
    for (const i of items) byMessage.set(i.message_id, [...(byMessage.get(i.message_id) ?? []), i]);

    const cancel: Array<{ id: number; from: MessageStatus; reason: string }> = [];
    const drop: Array<{ message: MessageRow; own: MessageItemRow[]; gone: Array<{ item: MessageItemRow; cause: StaleCause }> }> = [];
    const unchanged = new Set<number>(messages.map((m) => m.id));
    for (const message of checked) {
      const own = byMessage.get(message.id) ?? [];
      const gone = own.flatMap((item) => {
        const cause = staleCause(message.message_type, item, koha, at);
        return cause ? [{ item, cause }] : [];
      });
      if (!gone.length) continue;
      unchanged.delete(message.id);
      if (gone.length === own.length) cancel.push({ id: message.id, from: message.status, reason: `${NOTHING_LEFT}; ${describe(gone)}` });
      else drop.push({ message, own, gone });
    }

    if (cancel.length) {
      outcome.cancelled = await store.cancelStale({ messages: cancel, claimedBy: opts.claimedBy, actor: opts.actor, at: now });
      const done = new Set(outcome.cancelled);
      outcome.lost.push(...cancel.filter((c) => !done.has(c.id)).map((c) => c.id));
    }
    const changedRows = new Map<number, MessageRow>();
    if (drop.length) {
      const directory = await BranchDirectory.load(this.deps);
      let money: RunContext | null = null;
      const amount = async () => {
        money ??= await RunContext.load(this.deps, {
          runId: null,
          runDate: at.today,
          branchcode: null,
          dryRun: true,
          automated: false,
          actor: opts.actor,
        });
        const context = money;
        return (v: number) => context.amount(v);
      };
      for (const { message, own, gone } of drop) {
        const row = await this.leaveOut(message, own, gone, directory, amount, opts);
        if (row === 'unchanged') unchanged.add(message.id);
        else if (row) {
          changedRows.set(message.id, row);
          outcome.changed.push(message.id);
          outcome.itemsDropped += gone.length;
        } else outcome.lost.push(message.id);
      }
    }
    for (const m of messages) {
      if (unchanged.has(m.id)) outcome.kept.push(m);
      else {
        const row = changedRows.get(m.id);
        if (row) outcome.kept.push(row);
      }
    }
    if (outcome.cancelled.length || outcome.changed.length)
      this.deps.logger.info('recheck.stale', {
        actor: opts.actor,
        cancelled: outcome.cancelled.length,
        changed: outcome.changed.length,
        itemsDropped: outcome.itemsDropped,
      });
    return outcome;
  }

  /**
   * Renders a message again without its items that are no longer current and stores it so; the row as it now
   * is, null when it moved meanwhile, or 'unchanged' when it cannot be rendered again (it kept no data): then
   * it goes as it was, which names an item too many, rather than not at all.
   */
  private async leaveOut(
    message: MessageRow,
    own: MessageItemRow[],
    gone: Array<{ item: MessageItemRow; cause: StaleCause }>,
    directory: BranchDirectory,
    amount: () => Promise<(v: number) => string>,
    opts: { actor: string; claimedBy?: string },
  ): Promise<MessageRow | null | 'unchanged'> {
    const removed = gone.map((g) => g.item);
    try {
      const { data, fee } = await renderDataWithout(message, own, removed, amount, 'checked again');
      const again = await renderAgain(this.deps, { ...message, render_data: JSON.stringify(data) }, message.channel);
      const content = contentFor(again, message.branchcode, directory);
      // Same channel, same address: only the text changes (the address was placed and checked when it was made).
      const rewritten = {
        channel: message.channel,
        to: message.to_address,
        from: message.from_address,
        replyTo: message.reply_to,
        lang: content.lang,
        subject: content.subject,
        text: content.text,
        html: content.html,
        fee,
        renderData: data,
      };
      const stored = await this.deps.store.rewrite({
        id: message.id,
        status: message.status,
        claimedBy: opts.claimedBy,
        content: rewritten,
        removedItems: removed.map((r) => r.id),
        detail: `${ITEMS_DROPPED}; ${describe(gone)}`,
        actor: opts.actor,
        at: this.deps.clock.now(),
      });
      if (!stored) return null;
      return {
        ...message,
        lang: rewritten.lang,
        subject: rewritten.subject.slice(0, 255),
        body_text: rewritten.text,
        body_html: rewritten.html,
        fee: fee.toFixed(2),
        render_data: JSON.stringify(data),
      };
    } catch (err) {
      if (!(err instanceof KmcError)) throw err;
      this.deps.logger.warn('recheck.not_rendered', { messageId: message.id, code: err.code });
      return 'unchanged';
    }
  }
}
