/**
 * A routine's run reviewed by staff before anything is sent: starting one
 * by hand (its messages wait as `proposed`), and the approval that applies
 * what staff changed (a patron or an item left out, a message sent by
 * another channel) and places the rest by the placement rule: the queue,
 * or held while an e-mail address waits for verification or an SMS waits
 * for the end of its branch's quiet hours.
 */
import { randomUUID } from 'node:crypto';
import { KmcError } from '../errors';
import { libraryDay, type ChannelName, type MessageStatus } from '../kernel';
import { placeMessage, QuietHours, type MessageRow, type Placement } from '../queue';
import { REVIEWABLE } from '../runs';
import { routineRunFields, type Routine } from '../scheduling';
import { BranchDirectory, type NoticeDeps } from './context';
import { RunContext } from './engine';
import { contentFor, renderAgain, renderDataWithout, type ItemLine } from './render-again';
import { NoticeRecheck } from './recheck';
import { runNotices } from './run';

export interface ApprovalResult {
  queued: number;
  held: number;
  cancelled: number;
  missing: number;
  /** Messages whose change could not be made (they wait in the staff queue). */
  failed: number;
  itemsRemoved: number;
  /** Checked against Koha at approval: items returned, renewed or picked up since, left out of their notices ... */
  itemsNoLongerCurrent: number;
  /** ... and notices cancelled with nothing current left (also counted in `cancelled`). */
  cancelledNoLongerCurrent: number;
}

export type StartedRun = { runId: number } | { notRun: 'disabled' | 'already_run' | 'failed'; error?: string };

export type RunApprovalDeps = NoticeDeps;

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A move gathered for many messages at once: most messages of a run are approved as they are. */
interface Gathered {
  from: MessageStatus;
  to: 'pending' | 'held' | 'cancelled' | 'failed' | 'missing_contact';
  detail: string;
  reason: string | null;
  ids: number[];
}

export class RunApproval {
  constructor(private readonly deps: RunApprovalDeps) {}

  /**
   * Starts a run of a routine by hand. It works in the background; this
   * returns as soon as the run is recorded (the run tells its id), so the
   * page can show its progress. A run started here always waits for
   * approval: staff see it before it goes.
   */
  startRoutine(routine: Routine, staffNumber: number): Promise<StartedRun> {
    const { deps } = this;
    return new Promise<StartedRun>((resolve) => {
      runNotices(deps, {
        ...routineRunFields(routine),
        // Run now always shows the notices to staff before anything goes out.
        needsApproval: true,
        startedBy: `staff:${staffNumber}`,
        job: `routine:${routine.id}:manual:${randomUUID().slice(0, 12)}`,
        fireTime: deps.clock.now(),
        onOpen: (runId) => {
          resolve({ runId });
        },
      }).then(
        (r) => {
          resolve({ notRun: r.notRun ?? 'failed' });
        },
        (err: unknown) => {
          const error = err instanceof Error ? err.message : String(err);
          deps.logger.error('routine.run_failed', { routineId: routine.id, error });
          resolve({ notRun: 'failed', error });
        },
      );
    });
  }

  /**
   * Applies the review and places the run's messages. Runs once: a second
   * approval of the same run (two staff at once) finds it approved and
   * returns null.
   */
  async approve(runId: number, staffNumber: number): Promise<ApprovalResult | null> {
    const { runs, clock, logger } = this.deps;
    const status = await runs.status(runId);
    if (!status) throw new KmcError('KMC_NOT_FOUND', `there is no run ${runId}`);
    if (status === 'running') throw new KmcError('KMC_RUN_NOT_DONE', `run ${runId} is still working; approve it when it has finished`);
    if (!(await runs.claimApproval(runId, staffNumber, clock.now()))) return null;
    const actor = `staff:${staffNumber}`;
    const result: ApprovalResult = {
      queued: 0,
      held: 0,
      cancelled: 0,
      missing: 0,
      failed: 0,
      itemsRemoved: 0,
      itemsNoLongerCurrent: 0,
      cancelledNoLongerCurrent: 0,
    };
    try {
      const ids = await this.deps.store.runMessageIds(runId, REVIEWABLE);
      const [directory, quiet] = await Promise.all([
        BranchDirectory.load(this.deps),
        QuietHours.load(this.deps.branches, this.deps.settings.timezone),
      ]);
      for (const part of chunk(ids, 500)) await this.approvePart(runId, part, directory, quiet, actor, result);
    } catch (err) {
      // Let staff approve again: what was moved stays moved, the rest is still under review.
      await runs.dropApproval(runId);
      throw err;
    }
    await runs.recordApproval(runId, {
      queued: result.queued + result.held,
      cancelled: result.cancelled,
      itemsRemoved: result.itemsRemoved,
    });
    logger.info('run.approved', { runId, staff: staffNumber, ...result });
    return result;
  }

  private async approvePart(
    runId: number,
    part: number[],
    directory: BranchDirectory,
    quiet: QuietHours,
    actor: string,
    result: ApprovalResult,
  ): Promise<void> {
    const { store, runs, clock, logger } = this.deps;
    // Checked against Koha first, so staff never approve what is no longer current.
    const checked = await new NoticeRecheck(this.deps).settle(await store.many(part), { actor });
    result.cancelled += checked.cancelled.length;
    result.cancelledNoLongerCurrent += checked.cancelled.length;
    result.itemsNoLongerCurrent += checked.itemsDropped;
    const current = checked.kept.map((m) => m.id);
    const [messages, reviews, items, leftOut] = await Promise.all([
      store.many(current),
      runs.messageReviews(current),
      store.items(current),
      runs.itemsLeftOut(current),
    ]);
    const moves = new Map<string, Gathered>();
    const move = (id: number, from: MessageStatus, to: Gathered['to'], detail: string, reason: string | null) => {
      const key = `${from}|${to}|${detail}|${reason ?? ''}`;
      const m = moves.get(key) ?? { from, to, detail, reason, ids: [] };
      m.ids.push(id);
      moves.set(key, m);
    };
    let money: RunContext | null = null;
    const moneyContext = async () =>
      (money ??= await RunContext.load(this.deps, {
        runId: null,
        runDate: libraryDay(clock.now(), this.deps.settings.timezone),
        branchcode: null,
        dryRun: true,
        automated: false,
        actor,
      }));
    const ready: Array<{ message: MessageRow; channel: ChannelName; to: string | null }> = [];
    for (const message of messages) {
      const id = message.id;
      const review = reviews.get(id);
      const own = items.filter((i) => i.message_id === id);
      const removed = own.filter((i) => leftOut.has(i.id));
      if (review?.excluded || (own.length > 0 && removed.length === own.length)) {
        const why = review?.excluded ? 'left out by staff before approval' : 'every item left out by staff before approval';
        move(id, message.status, 'cancelled', why, why);
        result.cancelled += 1;
        continue;
      }
      const sendAs = review?.send_as;
      const target: ChannelName = sendAs === 'email' || sendAs === 'sms' || sendAs === 'print' ? sendAs : message.channel;
      let missing = message.status === 'missing_contact';
      let to = message.to_address;
      let channel = message.channel;
      if (removed.length || target !== message.channel) {
        let changed: { to: string | null; reason: string | null };
        try {
          changed = await this.rerender(message, target, own, removed, directory, moneyContext, actor);
        } catch (err) {
          // A message that cannot be made as staff asked is not sent as it was either: it goes to the staff queue.
          if (!(err instanceof KmcError)) throw err;
          logger.warn('run.change_failed', { runId, messageId: id, code: err.code });
          const why = `staff's change could not be made: ${err.message}`;
          move(id, message.status, 'failed', why, why);
          result.failed += 1;
          continue;
        }
        result.itemsRemoved += removed.length;
        if (!changed.to) {
          const why = changed.reason ?? `no address for ${target}`;
          move(id, message.status, 'missing_contact', why, why);
          result.missing += 1;
          continue;
        }
        to = changed.to;
        channel = target;
        missing = false;
      }
      if (missing) {
        result.missing += 1;
        continue;
      }
      ready.push({ message, channel, to });
    }
    // Where each would have gone without approval, by the one placement rule.
    const emails = ready.filter((r) => r.channel === 'email' && r.to);
    const gate =
      this.deps.emailGate && emails.length
        ? await this.deps.emailGate.check(emails.map((r) => ({ borrowernumber: r.message.borrowernumber, email: r.to ?? '' })))
        : new Map<number, 'held' | 'expired'>();
    for (const r of ready) {
      const placed: Placement = placeMessage({
        channel: r.channel,
        emailState: r.channel === 'email' ? gate.get(r.message.borrowernumber) : null,
        quietHours: quiet.quietNow(r.message.branchcode, clock.now()),
      });
      const id = r.message.id;
      if (placed.status === 'pending') {
        move(id, r.message.status, 'pending', 'approved by staff', null);
        result.queued += 1;
      } else if (placed.status === 'held') {
        move(id, r.message.status, 'held', `approved by staff; ${placed.reason ?? ''}`, placed.reason);
        result.held += 1;
      } else {
        move(id, r.message.status, 'missing_contact', `approved by staff; ${placed.reason ?? ''}`, placed.reason);
        result.missing += 1;
      }
    }
    const at = clock.now();
    for (const m of moves.values()) await store.move({ ...m, actor, at });
  }

  /** Renders a message again without the items left out and for its new channel; removes those items. */
  private async rerender(
    message: MessageRow,
    channel: ChannelName,
    own: ItemLine[],
    removed: ItemLine[],
    directory: BranchDirectory,
    moneyContext: () => Promise<RunContext>,
    actor: string,
  ): Promise<{ to: string | null; reason: string | null }> {
    const { data, fee } = await renderDataWithout(
      message,
      own,
      removed,
      async () => {
        const money = await moneyContext();
        return (v) => money.amount(v);
      },
      'changed',
    );
    const again = await renderAgain(this.deps, { ...message, render_data: JSON.stringify(data) }, channel);
    const changes: string[] = [];
    if (removed.length) changes.push(`left out by staff: ${removed.map((r) => r.barcode || r.title || `item ${r.id}`).join(', ')}`);
    if (channel !== message.channel) changes.push(`sent as ${channel} instead of ${message.channel}`);
    await this.deps.store.rewrite({
      id: message.id,
      status: message.status,
      content: { ...contentFor(again, message.branchcode, directory), channel, fee, renderData: data },
      removedItems: removed.map((r) => r.id),
      detail: changes.join('; '),
      actor,
      at: this.deps.clock.now(),
    });
    return { to: again.to, reason: again.reason };
  }
}
