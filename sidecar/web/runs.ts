/**
 * Runs of routines on the staff pages: starting one by hand (its messages
 * wait as `proposed`), showing what it will send before anything is sent,
 * keeping what staff changed (a patron or an item left out, a message sent
 * by another channel), and the approval that applies those changes and
 * queues the rest.
 *
 * After approval a message goes where the notice engine would have put it
 * without approval: `pending`, or `held` while its e-mail address waits for
 * verification or its SMS waits for the end of the branch's quiet hours.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import { KmcError } from '../errors';
import type { Logger } from '../logging';
import type { ChannelName } from '../channels/contract';
import type { MessageRow, MessageStatus } from '../queue';
import { BranchDirectory, QuietHours, renderAgain, runNotices, type Clock, type NoticeDeps } from '../notices';
import { RunContext } from '../notices/engine';
import { libraryDay } from '../rendering/dates';
import type { Routine } from './routines';
import { routineRunFields } from '../scheduling';
import { CHANNELS } from './messages';

export interface RunRow {
  id: number;
  job: string;
  run_date: string;
  message_type: string | null;
  branchcode: string | null;
  dry_run: number;
  status: 'running' | 'finished' | 'failed';
  started_at: string;
  finished_at: string | null;
  started_by: string | null;
  stats: string | null;
  error: string | null;
}

export interface RunSummary extends RunRow {
  routine_id: number | null;
  routine_name: string | null;
  messages: number;
  proposed: number;
  approved_by: number | null;
  approved_at: string | null;
}

export interface ReviewMessage {
  id: number;
  borrowernumber: number;
  channel: ChannelName;
  status: MessageStatus;
  status_reason: string | null;
  subject: string | null;
  excluded: boolean;
  send_as: ChannelName | null;
  items: number;
  itemsLeftOut: number;
}

export interface ReviewItem {
  id: number;
  message_id: number;
  borrowernumber: number;
  title: string | null;
  author: string | null;
  barcode: string | null;
  date_due: string | null;
  excluded: boolean;
  messageExcluded: boolean;
}

export interface ApprovalResult {
  queued: number;
  held: number;
  cancelled: number;
  missing: number;
  /** Messages whose change could not be made (they wait in the queue). */
  failed: number;
  itemsRemoved: number;
}

/** Statuses a run's message may have while staff review it. */
const REVIEWABLE: MessageStatus[] = ['proposed', 'missing_contact'];

export interface RunServiceDeps {
  knex: Knex;
  clock: Clock;
  logger: Logger;
  notices?: NoticeDeps;
}

/** `routine:<id>` (scheduled) and `routine:<id>:manual:…` (run by hand) name the routine a run belongs to. */
export function routineIdOfJob(job: string): number | null {
  const m = /^routine:(\d+)(?::|$)/.exec(job);
  return m ? Number(m[1]) : null;
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RunService {
  constructor(private readonly deps: RunServiceDeps) {}

  private get notices(): NoticeDeps {
    if (!this.deps.notices)
      throw new KmcError('KMC_NOT_AVAILABLE', 'routines cannot be run from the pages here: the notice engine is not wired in');
    return this.deps.notices;
  }

  /**
   * Starts a run of a routine by hand. It works in the background; this
   * returns as soon as the run is recorded, so the page can show its progress.
   * A run started here always waits for approval: staff see it before it goes.
   */
  async startRoutine(
    routine: Routine,
    staffNumber: number,
  ): Promise<{ runId: number } | { notRun: 'disabled' | 'already_run' | 'failed'; error?: string }> {
    const notices = this.notices;
    const job = `routine:${routine.id}:manual:${randomUUID().slice(0, 12)}`;
    const running = runNotices(notices, {
      ...routineRunFields(routine),
      // Run now always shows the notices to staff before anything goes out.
      needsApproval: true,
      startedBy: `staff:${staffNumber}`,
      job,
      fireTime: this.deps.clock.now(),
    });
    let outcome: { done: true; notRun?: 'disabled' | 'already_run'; error?: string } | null = null;
    const settled = running.then(
      (r) => (outcome = { done: true, notRun: r.notRun }),
      (err: Error) => {
        this.deps.logger.error('routine.run_failed', { routineId: routine.id, error: err.message });
        outcome = { done: true, error: err.message };
      },
    );
    for (let i = 0; i < 200; i++) {
      const row = (await this.deps.knex('kmc_runs').where({ job }).first('id')) as { id: number } | undefined;
      if (row) return { runId: Number(row.id) };
      if (outcome) break;
      await Promise.race([settled, sleep(25)]);
    }
    const o = outcome as { notRun?: 'disabled' | 'already_run'; error?: string } | null;
    return { notRun: o?.notRun ?? 'failed', error: o?.error };
  }

  async get(id: number): Promise<RunSummary | null> {
    const [row] = await this.summaries(this.deps.knex('kmc_runs').where({ id }));
    return row ?? null;
  }

  /** Recent runs, newest first; `waiting` keeps those with messages waiting for approval. */
  async recent(opts: { limit: number; waiting?: boolean; routineId?: number | null }): Promise<RunSummary[]> {
    const q = this.deps.knex('kmc_runs').where('job', 'not like', 'archive:%').orderBy('id', 'desc').limit(opts.limit);
    if (opts.waiting)
      q.whereExists((e) =>
        e.select(this.deps.knex.raw('1')).from('kmc_messages as pm').whereRaw('pm.run_id = kmc_runs.id').where('pm.status', 'proposed'),
      );
    if (opts.routineId) q.where((w) => w.where('job', `routine:${opts.routineId}`).orWhere('job', 'like', `routine:${opts.routineId}:%`));
    return this.summaries(q);
  }

  private async summaries(q: Knex.QueryBuilder): Promise<RunSummary[]> {
    const runs = (await q.select()) as RunRow[];
    if (!runs.length) return [];
    const ids = runs.map((r) => Number(r.id));
    const counts: Array<{ run_id: number; n: number; proposed: number; routine_id: number | null }> = await this.deps
      .knex('kmc_messages')
      .whereIn('run_id', ids)
      .groupBy('run_id')
      .select(
        'run_id',
        this.deps.knex.raw('COUNT(*) AS n'),
        this.deps.knex.raw("SUM(status = 'proposed') AS proposed"),
        this.deps.knex.raw('MAX(routine_id) AS routine_id'),
      );
    const byRun = new Map(counts.map((c) => [Number(c.run_id), c]));
    const approvals: Array<{ run_id: number; approved_by: number; approved_at: string }> = await this.deps
      .knex('kmc_run_approvals')
      .whereIn('run_id', ids)
      .select();
    const approved = new Map(approvals.map((a) => [Number(a.run_id), a]));
    const routineIds = new Set<number>();
    for (const r of runs) {
      const rid = routineIdOfJob(r.job) ?? byRun.get(Number(r.id))?.routine_id ?? null;
      if (rid) routineIds.add(Number(rid));
    }
    const names = new Map<number, string>(
      (
        (await this.deps
          .knex('kmc_routines')
          .whereIn('id', [...routineIds])
          .select('id', 'name')) as Array<{ id: number; name: string }>
      ).map((r) => [Number(r.id), r.name]),
    );
    return runs.map((r) => {
      const c = byRun.get(Number(r.id));
      const routineId = routineIdOfJob(r.job) ?? (c?.routine_id ? Number(c.routine_id) : null);
      const a = approved.get(Number(r.id));
      return {
        ...r,
        id: Number(r.id),
        routine_id: routineId,
        routine_name: routineId ? (names.get(routineId) ?? null) : null,
        messages: Number(c?.n ?? 0),
        proposed: Number(c?.proposed ?? 0),
        approved_by: a ? Number(a.approved_by) : null,
        approved_at: a?.approved_at ?? null,
      };
    });
  }

  /** How far a run has got: its status and the messages it has made so far. */
  async progress(runId: number): Promise<{ status: RunRow['status']; made: number } | null> {
    const run = (await this.deps.knex('kmc_runs').where({ id: runId }).first('status')) as { status: RunRow['status'] } | undefined;
    if (!run) return null;
    const row = (await this.deps.knex('kmc_messages').where({ run_id: runId }).count({ n: '*' }).first()) as { n: number } | undefined;
    return { status: run.status, made: Number(row?.n ?? 0) };
  }

  /** The run's messages with what staff decided so far, a page at a time (patrons view). */
  async reviewMessages(runId: number, page: number, pageSize: number): Promise<{ messages: ReviewMessage[]; total: number }> {
    const { knex } = this.deps;
    const base = () => knex('kmc_messages as m').where('m.run_id', runId);
    const counted = (await base().count({ n: '*' }).first()) as { n: number } | undefined;
    const rows: Array<MessageRow & { excluded: number | null; send_as: string | null }> = await base()
      .leftJoin('kmc_review_messages as r', 'r.message_id', 'm.id')
      .orderBy('m.borrowernumber')
      .orderBy('m.id')
      .limit(pageSize)
      .offset((page - 1) * pageSize)
      .select('m.id', 'm.borrowernumber', 'm.channel', 'm.status', 'm.status_reason', 'm.subject', 'r.excluded', 'r.send_as');
    const ids = rows.map((r) => Number(r.id));
    const itemCounts = new Map<number, { n: number; out: number }>();
    if (ids.length) {
      const counts: Array<{ message_id: number; n: number; out: number }> = await knex('kmc_message_items as i')
        .leftJoin('kmc_review_items as ri', 'ri.message_item_id', 'i.id')
        .whereIn('i.message_id', ids)
        .groupBy('i.message_id')
        .select('i.message_id', knex.raw('COUNT(*) AS n'), knex.raw('COUNT(ri.message_item_id) AS `out`'));
      for (const c of counts) itemCounts.set(Number(c.message_id), { n: Number(c.n), out: Number(c.out) });
    }
    return {
      total: Number(counted?.n ?? 0),
      messages: rows.map((r) => ({
        id: Number(r.id),
        borrowernumber: Number(r.borrowernumber),
        channel: r.channel,
        status: r.status,
        status_reason: r.status_reason,
        subject: r.subject,
        excluded: !!r.excluded,
        send_as: (CHANNELS as readonly string[]).includes(r.send_as ?? '') ? (r.send_as as ChannelName) : null,
        items: itemCounts.get(Number(r.id))?.n ?? 0,
        itemsLeftOut: itemCounts.get(Number(r.id))?.out ?? 0,
      })),
    };
  }

  /** The items the run's messages cover, with what staff decided (items view). */
  async reviewItems(runId: number, page: number, pageSize: number): Promise<{ items: ReviewItem[]; total: number }> {
    const { knex } = this.deps;
    const base = () => knex('kmc_message_items as i').join('kmc_messages as m', 'm.id', 'i.message_id').where('m.run_id', runId);
    const counted = (await base().count({ n: '*' }).first()) as { n: number } | undefined;
    const rows: Array<ReviewItem & { ri: number | null; rm: number | null }> = await base()
      .leftJoin('kmc_review_items as ri', 'ri.message_item_id', 'i.id')
      .leftJoin('kmc_review_messages as rm', 'rm.message_id', 'm.id')
      .orderBy('i.title')
      .orderBy('i.id')
      .limit(pageSize)
      .offset((page - 1) * pageSize)
      .select(
        'i.id',
        'i.message_id',
        'm.borrowernumber',
        'i.title',
        'i.author',
        'i.barcode',
        'i.date_due',
        'ri.message_item_id as ri',
        'rm.excluded as rm',
      );
    return {
      total: Number(counted?.n ?? 0),
      items: rows.map((r) => ({
        id: Number(r.id),
        message_id: Number(r.message_id),
        borrowernumber: Number(r.borrowernumber),
        title: r.title,
        author: r.author,
        barcode: r.barcode,
        date_due: r.date_due,
        excluded: r.ri !== null,
        messageExcluded: !!r.rm,
      })),
    };
  }

  async isApproved(runId: number): Promise<boolean> {
    return !!(await this.deps.knex('kmc_run_approvals').where({ run_id: runId }).first('run_id'));
  }

  /**
   * Keeps what staff ticked on one page of the review: `shown` are the
   * messages (or items) the page showed, `keep` those left ticked.
   */
  async saveReview(
    runId: number,
    staffNumber: number,
    posted: {
      shownMessages: number[];
      keepMessages: Set<number>;
      sendAs: Map<number, ChannelName | null>;
      shownItems: number[];
      keepItems: Set<number>;
    },
  ): Promise<{ changed: number }> {
    const { knex } = this.deps;
    const at = toDbTime(this.deps.clock.now());
    let changed = 0;
    await knex.transaction(async (trx) => {
      // Only this run's messages still under review can be changed.
      const messages = posted.shownMessages.length
        ? ((await trx('kmc_messages')
            .where('run_id', runId)
            .whereIn('id', posted.shownMessages)
            .whereIn('status', REVIEWABLE)
            .select('id', 'channel')) as Array<{ id: number; channel: ChannelName }>)
        : [];
      for (const m of messages) {
        const id = Number(m.id);
        const sendAs = posted.sendAs.get(id) ?? null;
        const row = {
          message_id: id,
          run_id: runId,
          excluded: posted.keepMessages.has(id) ? 0 : 1,
          send_as: sendAs && sendAs !== m.channel ? sendAs : null,
          updated_by: staffNumber,
          updated_at: at,
        };
        const before = (await trx('kmc_review_messages').where({ message_id: id }).first('excluded', 'send_as')) as
          { excluded: number; send_as: string | null } | undefined;
        if ((before?.excluded ?? 0) === row.excluded && (before?.send_as ?? null) === row.send_as) continue;
        await trx('kmc_review_messages').insert(row).onConflict('message_id').merge();
        changed += 1;
      }
      if (posted.shownItems.length) {
        const items = (await trx('kmc_message_items as i')
          .join('kmc_messages as m', 'm.id', 'i.message_id')
          .where('m.run_id', runId)
          .whereIn('m.status', REVIEWABLE)
          .whereIn('i.id', posted.shownItems)
          .select('i.id', 'i.message_id')) as Array<{ id: number; message_id: number }>;
        const out = items.filter((i) => !posted.keepItems.has(Number(i.id)));
        const kept = items.filter((i) => posted.keepItems.has(Number(i.id))).map((i) => Number(i.id));
        if (kept.length) changed += await trx('kmc_review_items').whereIn('message_item_id', kept).delete();
        for (const i of out) {
          const inserted = await trx('kmc_review_items')
            .insert({ message_item_id: i.id, message_id: i.message_id, run_id: runId, updated_by: staffNumber, updated_at: at })
            .onConflict('message_item_id')
            .ignore();
          changed += Array.isArray(inserted) && Number(inserted[0]) ? 1 : 0;
        }
      }
    });
    return { changed };
  }

  /**
   * Applies the review and queues the run's messages. Runs once: a second
   * approval of the same run (two staff at once) finds it approved and does nothing.
   */
  async approve(runId: number, staffNumber: number): Promise<ApprovalResult | null> {
    const { knex, clock, logger } = this.deps;
    const notices = this.notices;
    const run = (await knex('kmc_runs').where({ id: runId }).first('status')) as { status: string } | undefined;
    if (!run) throw new KmcError('KMC_NOT_FOUND', `there is no run ${runId}`);
    if (run.status === 'running') throw new KmcError('KMC_RUN_NOT_DONE', `run ${runId} is still working; approve it when it has finished`);
    try {
      await knex('kmc_run_approvals').insert({ run_id: runId, approved_by: staffNumber, approved_at: toDbTime(clock.now()) });
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') return null;
      throw err;
    }
    const actor = `staff:${staffNumber}`;
    const result: ApprovalResult = { queued: 0, held: 0, cancelled: 0, missing: 0, failed: 0, itemsRemoved: 0 };
    try {
      const ids = (await knex('kmc_messages').where('run_id', runId).whereIn('status', REVIEWABLE).orderBy('id').pluck('id')) as number[];
      const [directory, quiet] = await Promise.all([BranchDirectory.load(notices), QuietHours.load(knex, notices.settings.timezone)]);
      let money: RunContext | null = null;
      const moneyContext = async () =>
        (money ??= await RunContext.load(notices, {
          runId: null,
          runDate: libraryDay(clock.now(), notices.settings.timezone),
          branchcode: null,
          dryRun: true,
          automated: false,
          actor,
        }));

      for (const part of chunk(ids.map(Number), 500)) {
        const messages = (await knex('kmc_messages').whereIn('id', part).select()) as Array<
          MessageRow & { render_data?: string | null; rule_id?: number | null }
        >;
        const reviews = new Map(
          (
            (await knex('kmc_review_messages').whereIn('message_id', part).select()) as Array<{
              message_id: number;
              excluded: number;
              send_as: string | null;
            }>
          ).map((r) => [Number(r.message_id), r]),
        );
        const items = (await knex('kmc_message_items')
          .whereIn('message_id', part)
          .orderBy('id')
          .select('id', 'message_id', 'title', 'barcode', 'fee')) as Array<{
          id: number;
          message_id: number;
          title: string | null;
          barcode: string | null;
          fee: string;
        }>;
        const leftOut = new Set(
          ((await knex('kmc_review_items').whereIn('message_id', part).pluck('message_item_id')) as number[]).map(Number),
        );
        // Moves are gathered and written in bulk: most messages of a run are approved as they are.
        const moves = new Map<string, { from: MessageStatus; to: MessageStatus; detail: string; reason: string | null; ids: number[] }>();
        const move = (id: number, from: MessageStatus, to: MessageStatus, detail: string, reason: string | null) => {
          const key = `${from}|${to}|${detail}|${reason ?? ''}`;
          const m = moves.get(key) ?? { from, to, detail, reason, ids: [] };
          m.ids.push(id);
          moves.set(key, m);
        };
        const ready: Array<{
          id: number;
          from: MessageStatus;
          channel: ChannelName;
          to: string | null;
          borrowernumber: number;
          branchcode: string | null;
        }> = [];
        for (const message of messages) {
          const id = Number(message.id);
          const review = reviews.get(id);
          const own = items.filter((i) => Number(i.message_id) === id);
          const removed = own.filter((i) => leftOut.has(Number(i.id)));
          if (review?.excluded || (own.length > 0 && removed.length === own.length)) {
            const why = review?.excluded ? 'left out by staff before approval' : 'every item left out by staff before approval';
            move(id, message.status, 'cancelled', why, why);
            result.cancelled += 1;
            continue;
          }
          const target = (review?.send_as as ChannelName | null) ?? message.channel;
          let missing = message.status === 'missing_contact';
          let to = message.to_address;
          let channel = message.channel;
          if (removed.length || target !== message.channel) {
            let changed: { to: string | null; reason: string | null };
            try {
              changed = await this.rerender(message, target, own, removed, directory, moneyContext, actor);
            } catch (err) {
              // A message that cannot be made as staff asked is not sent as it was either: it goes to the queue.
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
          ready.push({
            id,
            from: message.status,
            channel,
            to,
            borrowernumber: Number(message.borrowernumber),
            branchcode: message.branchcode,
          });
        }
        // Where each would have gone without approval: held while an e-mail address waits for verification
        // or the branch's SMS quiet hours last, else the queue.
        const emails = ready.filter((r) => r.channel === 'email' && r.to);
        const gate =
          notices.emailGate && emails.length
            ? await notices.emailGate.check(emails.map((r) => ({ borrowernumber: r.borrowernumber, email: r.to! })))
            : new Map();
        for (const r of ready) {
          const state = r.channel === 'email' ? gate.get(r.borrowernumber) : undefined;
          if (state === 'held') {
            move(
              r.id,
              r.from,
              'held',
              'approved by staff; waiting for the patron to verify the e-mail address',
              'waiting for the patron to verify the e-mail address',
            );
            result.held += 1;
          } else if (state === 'expired') {
            move(
              r.id,
              r.from,
              'missing_contact',
              'approved by staff; email: address expired without being verified',
              'email: address expired without being verified',
            );
            result.missing += 1;
          } else if (r.channel === 'sms' && quiet.isQuiet(r.branchcode, clock.now())) {
            const reason = quiet.reason(r.branchcode);
            move(r.id, r.from, 'held', `approved by staff; ${reason}`, reason);
            result.held += 1;
          } else {
            move(r.id, r.from, 'pending', 'approved by staff', null);
            result.queued += 1;
          }
        }
        for (const m of moves.values()) await this.moveMany(m.ids, m.from, m.to, m.detail, m.reason, actor);
      }
    } catch (err) {
      // Let staff approve again: what was moved stays moved, the rest is still under review.
      await knex('kmc_run_approvals').where({ run_id: runId }).delete();
      throw err;
    }
    await knex('kmc_run_approvals')
      .where({ run_id: runId })
      .update({ queued: result.queued + result.held, cancelled: result.cancelled, items_removed: result.itemsRemoved });
    logger.info('run.approved', { runId, staff: staffNumber, ...result });
    return result;
  }

  /** Moves messages that are still in `from` to `to`, each with an event; returns how many moved. */
  private async moveMany(
    ids: number[],
    from: MessageStatus,
    to: MessageStatus,
    detail: string,
    reason: string | null,
    actor: string,
  ): Promise<number> {
    const at = toDbTime(this.deps.clock.now());
    let moved = 0;
    for (const part of chunk(ids, 500)) {
      moved += await this.deps.knex.transaction(async (trx) => {
        // Only those still as we found them: a message someone else moved meanwhile stays as it is.
        const mine = ((await trx('kmc_messages').whereIn('id', part).where({ status: from }).forUpdate().pluck('id')) as number[]).map(
          Number,
        );
        if (!mine.length) return 0;
        const update: Record<string, unknown> = { status: to, updated_at: at, status_reason: reason ? reason.slice(0, 255) : null };
        if (to === 'pending') update.next_attempt_at = at;
        await trx('kmc_messages').whereIn('id', mine).update(update);
        await trx('kmc_message_events').insert(
          mine.map((id) => ({ message_id: id, at, status: to, detail: detail.slice(0, 1000), actor })),
        );
        return mine.length;
      });
    }
    return moved;
  }

  /** Renders a message again without the items left out and for its new channel; removes those items. */
  private async rerender(
    message: MessageRow & { render_data?: string | null; rule_id?: number | null },
    channel: ChannelName,
    own: Array<{ id: number; title: string | null; barcode: string | null; fee: string }>,
    removed: Array<{ id: number; title: string | null; barcode: string | null; fee: string }>,
    directory: BranchDirectory,
    moneyContext: () => Promise<RunContext>,
    actor: string,
  ): Promise<{ to: string | null; reason: string | null }> {
    const notices = this.notices;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(message.render_data ?? 'null') as Record<string, unknown>;
      if (!data || typeof data !== 'object') throw new Error('no data');
    } catch {
      throw new KmcError('KMC_NO_RENDER_DATA', `message ${message.id} did not keep the data it was made from, so it cannot be changed`);
    }
    let fee = Number(message.fee);
    if (removed.length) {
      const lines = Array.isArray(data.items) ? (data.items as Array<Record<string, unknown>>) : [];
      const gone = new Set(removed.map((r) => Number(r.id)));
      // The template's item lines are in the order of the message's items; match by barcode when they are not.
      const kept =
        lines.length === own.length
          ? lines.filter((_, i) => !gone.has(Number(own[i].id)))
          : lines.filter((l) => !removed.some((r) => r.barcode && l.barcode === r.barcode));
      fee = Math.round((fee - removed.reduce((s, r) => s + Number(r.fee || 0), 0)) * 100) / 100;
      data = { ...data, items: kept };
      if (fee !== Number(message.fee)) data = { ...data, fee, fee_text: (await moneyContext()).amount(fee) };
    }
    const again = await renderAgain(notices, { ...message, render_data: JSON.stringify(data) }, channel);
    const at = toDbTime(this.deps.clock.now());
    const changes: string[] = [];
    if (removed.length) changes.push(`left out by staff: ${removed.map((r) => r.barcode || r.title || `item ${r.id}`).join(', ')}`);
    if (channel !== message.channel) changes.push(`sent as ${channel} instead of ${message.channel}`);
    await this.deps.knex.transaction(async (trx) => {
      await trx('kmc_messages')
        .where({ id: message.id })
        .update({
          channel,
          to_address: again.to,
          from_address:
            channel === 'email' ? directory.senderEmail(message.branchcode) : (directory.branch(message.branchcode)?.branchname ?? null),
          reply_to: channel === 'email' ? directory.replyTo(message.branchcode) : null,
          subject: again.subject.slice(0, 255),
          body_text: again.text,
          body_html: again.html,
          lang: again.lang,
          fee,
          render_data: JSON.stringify(data),
          updated_at: at,
        });
      if (removed.length)
        await trx('kmc_message_items')
          .whereIn(
            'id',
            removed.map((r) => r.id),
          )
          .delete();
      await trx('kmc_message_events').insert({
        message_id: message.id,
        at,
        status: message.status,
        detail: changes.join('; ').slice(0, 1000),
        actor,
      });
    });
    return { to: again.to, reason: again.reason };
  }
}
