/**
 * The message store: queue and archive in one table (kmc_messages), with
 * the items each message covers, its history and the SMS receipts waiting
 * for their message. The reads are here; every change of status goes
 * through the transitions (./transitions), one module per state move.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { ChannelName, MessageStatus } from '../kernel';
import type { QuietHours } from './quiet-hours';
import type { ClosedDays } from './closed-days';
import type {
  CompletionChange,
  InsertResult,
  MessageEventRow,
  MessageItemRow,
  MessageRow,
  NewMessage,
  QueuePage,
  QueueQuery,
  SmsReceipt,
  SmsReceiptRow,
} from './types';
import { MessageCreator } from './transitions/create';
import { claimDue, releaseClaimed, releaseExpiredLeases } from './transitions/claim';
import { completeMany } from './transitions/complete';
import { recordReceipt, type ReceiptOutcome } from './transitions/receipt';
import { recordBounce, type BounceReport } from './transitions/bounce';
import { releaseClosedDays, releaseQuietHours, releaseVerifiedEmail } from './transitions/release';
import { moveMany, type Move } from './transitions/move';
import { noteEvent, retryByStaff, type NoteArgs, type RetryArgs } from './transitions/staff';
import { rewriteMessage, type RewriteArgs } from './transitions/rewrite';
import { anonymiseBatch, type AnonymiseMark } from './transitions/anonymise';
import { cancelStale, type StaleCancel } from './transitions/stale';
import { cancelUnsentVerificationMails } from './transitions/cancel';
import { confirmPrinted, type ConfirmPrintedArgs } from './transitions/print';
import { chunk, numbers } from './transitions/shared';
import {
  countInStatuses,
  countsByDay,
  failureReasons,
  heldItemsOfRun,
  listForPatron,
  runLetterMessages,
  lettersToPrint,
  lettersByIds,
  lettersToPrintByBranch,
  searchArchive,
  smsErrorsOfRun,
  boundedCount,
  keysetOrder,
  keysetPage,
  resolveCursor,
  type ArchiveQuery,
  type BoundedCount,
  type KeysetPage,
  type PageCursor,
  type ArchiveResult,
  type DayCountRow,
  type HeldItemLine,
  type LetterMessage,
  type ListedMessage,
  type SmsErrorLine,
} from './staff-reads';

/** A loan's coverage as a run reads it back. */
export interface LoanCoverageRow {
  issue_id: number;
  coverage_key: string;
  date_due: string | null;
  notice_date: string | null;
  created_at: string;
  status: MessageStatus;
  first_sent_at: string | null;
}

/** What the staff queue shows: messages that failed, found no usable address, or bounced and could not be replaced. */
export const STAFF_QUEUE_STATUSES: Array<Extract<MessageStatus, 'failed' | 'missing_contact' | 'bounced'>> = [
  'failed',
  'missing_contact',
  'bounced',
];

export interface StaffQueueFilter {
  status: string;
  channel: string;
  branch: string;
  type: string;
  /** Where the page begins; null: the newest. */
  cursor: PageCursor | null;
}

export type QueuedMessage = Pick<
  MessageRow,
  | 'id'
  | 'message_type'
  | 'level'
  | 'borrowernumber'
  | 'branchcode'
  | 'channel'
  | 'status'
  | 'status_reason'
  | 'subject'
  | 'attempts'
  | 'created_at'
  | 'updated_at'
  | 'last_reply'
>;

interface CountRow {
  n: number | string;
}

const QUEUED_COLUMNS = [
  'm.id',
  'm.message_type',
  'm.level',
  'm.borrowernumber',
  'm.branchcode',
  'm.channel',
  'm.status',
  'm.status_reason',
  'm.subject',
  'm.attempts',
  'm.created_at',
  'm.updated_at',
  'm.last_reply',
];

export class MessageStore {
  private readonly creator: MessageCreator;

  /**
   * `outcomes`: connections that take several statements in one query, on which a group of outcomes is
   * written in one round trip (absent: statement by statement on `knex`).
   */
  constructor(
    private readonly knex: Knex,
    private readonly outcomes?: Knex,
  ) {
    this.creator = new MessageCreator(knex);
  }

  // ---- State moves (each one module of ./transitions) ----

  /** Create: stores new messages with what they cover, each in the place it was given. */
  insertMessages(messages: NewMessage[], at: Date, actor: string): Promise<InsertResult> {
    return this.creator.insertMessages(messages, at, actor);
  }

  /** Bounce: a report that came back to an e-mail's return path moves it to `bounced` (a complaint only adds history). */
  recordBounce(
    messageId: number,
    report: BounceReport,
    at: Date,
    actor: string,
  ): Promise<{ before: MessageStatus; after: MessageStatus } | null> {
    return recordBounce(this.knex, messageId, report, at, actor);
  }

  /** Claim: due messages for one worker, with a lease. */
  claimDue(opts: { channels: ChannelName[]; limit: number; workerId: string; leaseMs: number; now: Date }): Promise<MessageRow[]> {
    return claimDue(this.knex, opts);
  }

  /** Lease expiry: messages left in `sending` by a worker that died go back to the queue. */
  releaseExpiredLeases(now: Date, actor: string): Promise<number> {
    return releaseExpiredLeases(this.knex, now, actor);
  }

  /** A stopping worker gives back what it claimed but never handed to a channel. */
  releaseClaimed(ids: number[], workerId: string, at: Date, reason: string, nextAttemptAt?: Date): Promise<number> {
    return releaseClaimed(this.knex, ids, workerId, at, reason, nextAttemptAt);
  }

  /** Complete: moves a claimed message on after one attempt. */
  async complete(id: number, workerId: string, change: CompletionChange): Promise<boolean> {
    const [done] = await completeMany(this.knex, workerId, [{ id, ...change }], this.outcomes);
    return done;
  }

  completeMany(workerId: string, changes: Array<CompletionChange & { id: number }>): Promise<boolean[]> {
    return completeMany(this.knex, workerId, changes, this.outcomes);
  }

  /** Receipt: an SMS delivery receipt, applied to its sent message or kept until it is sent. */
  recordReceipt(receipt: SmsReceipt, at: Date): Promise<ReceiptOutcome> {
    return recordReceipt(this.knex, receipt, at);
  }

  /** Release: SMS and e-mail held for a closed day go on the branch's next open day. */
  releaseClosedDays(closed: ClosedDays, quiet: QuietHours, now: Date, actor: string): Promise<number> {
    return releaseClosedDays(this.knex, closed, quiet, now, actor);
  }

  /** Release: SMS held for quiet hours that are over go to the queue. */
  releaseQuietHours(quiet: QuietHours, now: Date, actor: string, closed?: ClosedDays | null): Promise<number> {
    return releaseQuietHours(this.knex, quiet, now, actor, closed);
  }

  /** Release: held e-mail of patrons whose address was verified go to the queue (in the caller's transaction when given). */
  releaseVerifiedEmail(
    patrons: Array<{ borrowernumber: number; email: string }>,
    at: Date,
    actor: string,
    detail: string,
    trx?: Knex.Transaction,
  ): Promise<number> {
    return releaseVerifiedEmail(trx ?? this.knex, patrons, at, actor, detail);
  }

  /** Approval and cancellation: many messages from one status to another; returns the ids that moved. */
  move(move: Move): Promise<number[]> {
    return moveMany(this.knex, move);
  }

  /** Retry by staff, placed by the placement rule. */
  retryByStaff(args: RetryArgs): Promise<boolean> {
    return retryByStaff(this.knex, args);
  }

  /** A line of history that does not change the status (optionally taking the message out of the staff queue). */
  note(args: NoteArgs): Promise<void> {
    return noteEvent(this.knex, args);
  }

  /** A message made again (new channel, text or items), optionally moving it as `place` says. */
  rewrite(args: RewriteArgs): Promise<boolean> {
    return rewriteMessage(this.knex, args);
  }

  /** Notices with nothing left that is still current in Koha: cancelled with the reason. */
  cancelStale(c: StaleCancel): Promise<number[]> {
    return cancelStale(this.knex, c);
  }

  /** Anonymise one batch of ended messages made before `before` (a UTC database time), after the last batch's mark. */
  anonymiseBatch(args: {
    before: string;
    batchSize: number;
    detail: string;
    actor: string;
    now: () => Date;
    from?: AnonymiseMark | null;
  }): Promise<{ messages: number; items: number; next: AnonymiseMark | null }> {
    return anonymiseBatch(this.knex, args);
  }

  /** Verification mails whose link no longer counts: cancelled while not yet sent. */
  cancelUnsentVerificationMails(ids: number[], detail: string, actor: string, at: Date): Promise<number[]> {
    return cancelUnsentVerificationMails(this.knex, ids, detail, actor, at);
  }

  /**
   * Renews the lease of messages a live worker still holds, so a slow send
   * never loses its claim; only a worker that died stops renewing. (No move:
   * the status stays `sending`.)
   */
  async extendLeases(ids: number[], workerId: string, leaseUntil: Date): Promise<number> {
    if (!ids.length) return 0;
    let n = 0;
    for (const part of chunk(ids, 1000)) {
      n += await this.knex('kmc_messages')
        .whereIn('id', part)
        .where({ status: 'sending', claimed_by: workerId })
        .update({ lease_until: toDbTime(leaseUntil) });
    }
    return n;
  }

  // ---- Reads ----

  /** Which of these coverage keys (type:level:issue:N) are already covered by a message. */
  async coveredKeys(keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunk(keys, 1000)) {
      const rows = await this.knex<MessageItemRow>('kmc_message_items')
        .whereIn('coverage_key', part)
        .whereNotNull('coverage_key')
        .pluck('coverage_key');
      for (const k of rows) if (k !== null) out.add(k);
    }
    return out;
  }

  /** The idempotency keys of these messages. */
  async keysOf(ids: number[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunk(ids, 1000))
      for (const k of await this.knex<MessageRow>('kmc_messages').whereIn('id', part).pluck('idempotency_key')) out.add(k);
    return out;
  }

  /** The message stored under an idempotency key. */
  async byKey(key: string): Promise<MessageRow | null> {
    return (await this.knex<MessageRow>('kmc_messages').where({ idempotency_key: key }).first()) ?? null;
  }

  /**
   * Per covered loan: its coverage keys, the due date each message covered,
   * and the message's library day, status and the time it first went out.
   */
  async loanCoverage(issueIds: number[]): Promise<LoanCoverageRow[]> {
    const out: LoanCoverageRow[] = [];
    for (const part of chunk(issueIds, 1000)) {
      const rows = await this.knex<MessageItemRow>({ mi: 'kmc_message_items' })
        .join<MessageRow>({ m: 'kmc_messages' }, 'm.id', 'mi.message_id')
        .whereIn('mi.issue_id', part)
        .whereNotNull('mi.coverage_key')
        .select<LoanCoverageRow[]>(
          'mi.issue_id',
          'mi.coverage_key',
          'mi.date_due',
          'm.notice_date',
          'm.created_at',
          'm.status',
          'm.first_sent_at',
        );
      out.push(...rows);
    }
    return out;
  }

  /** Receipts still waiting for their message (for the staff pages and tests). */
  async waitingReceipts(limit = 100): Promise<SmsReceiptRow[]> {
    return this.knex<SmsReceiptRow>('kmc_sms_receipts').whereNull('applied_at').orderBy('id').limit(limit);
  }

  /**
   * The queue for staff: messages in the given statuses (typically `failed`
   * and `missing_contact`), newest first, a page at a time. Pass the page's
   * `nextBeforeId` as `beforeId` to read on.
   */
  async queue(query: QueueQuery): Promise<QueuePage> {
    if (!query.statuses.length) return { messages: [], total: 0, nextBeforeId: null };
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const filtered = () => {
      const q = this.knex<MessageRow>('kmc_messages').whereIn('status', query.statuses);
      if (query.channel) q.where('channel', query.channel);
      if (query.branchcode) q.where('branchcode', query.branchcode);
      if (query.messageType) q.where('message_type', query.messageType);
      if (query.borrowernumber) q.where('borrowernumber', query.borrowernumber);
      return q;
    };
    const page = filtered()
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (query.beforeId) page.where('id', '<', query.beforeId);
    const rows: MessageRow[] = await page.select();
    const counted = await filtered().count<CountRow[]>({ n: '*' });
    const messages = rows.slice(0, limit);
    return {
      messages,
      total: Number(counted[0]?.n ?? 0),
      nextBeforeId: rows.length > limit ? messages[messages.length - 1].id : null,
    };
  }

  async get(id: number): Promise<MessageRow | null> {
    return (await this.knex<MessageRow>('kmc_messages').where({ id }).first()) ?? null;
  }

  /** Several messages by id, in id order. */
  async many(ids: number[]): Promise<MessageRow[]> {
    const out: MessageRow[] = [];
    for (const part of chunk(ids, 1000))
      out.push(...(await this.knex<MessageRow>('kmc_messages').whereIn('id', part).orderBy('id').select()));
    return out;
  }

  async items(messageIds: number[]): Promise<MessageItemRow[]> {
    if (!messageIds.length) return [];
    const out: MessageItemRow[] = [];
    for (const part of chunk(messageIds, 1000))
      out.push(
        ...(await this.knex<MessageItemRow>('kmc_message_items').whereIn('message_id', part).orderBy(['message_id', 'id']).select()),
      );
    return out;
  }

  async events(messageId: number): Promise<MessageEventRow[]> {
    return this.knex<MessageEventRow>('kmc_message_events').where({ message_id: messageId }).orderBy(['at', 'id']).select();
  }

  async forBorrower(borrowernumber: number, limit = 200): Promise<MessageRow[]> {
    return this.knex<MessageRow>('kmc_messages')
      .where({ borrowernumber })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit);
  }

  async recent(limit = 100): Promise<MessageRow[]> {
    return this.knex<MessageRow>('kmc_messages').orderBy('id', 'desc').limit(limit);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.knex<MessageRow>('kmc_messages')
      .groupBy('status')
      .select('status')
      .count<Array<{ status: string; n: number | string }>>({ n: '*' });
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Held e-mail notices (not verification mails) of these patrons, oldest first. */
  async heldEmail(borrowernumbers: number[]): Promise<MessageRow[]> {
    const out: MessageRow[] = [];
    for (const part of chunk(borrowernumbers, 500))
      out.push(
        ...(await this.knex<MessageRow>('kmc_messages')
          .whereIn('borrowernumber', part)
          .where({ status: 'held', channel: 'email' })
          .whereNot('message_type', 'email_verification')
          .orderBy('id')
          .select()),
      );
    return out;
  }

  /** Per run: its messages by status, and those not cancelled by channel. */
  async runCounts(runId: number): Promise<{ byStatus: Record<string, number>; byChannel: Record<string, number> }> {
    const byStatus = await this.knex<MessageRow>('kmc_messages')
      .where({ run_id: runId })
      .groupBy('status')
      .select('status')
      .count<Array<{ status: string; n: number | string }>>({ n: '*' });
    const byChannel = await this.knex<MessageRow>('kmc_messages')
      .where({ run_id: runId })
      .whereNot('status', 'cancelled')
      .groupBy('channel')
      .select('channel')
      .count<Array<{ channel: string; n: number | string }>>({ n: '*' });
    return {
      byStatus: Object.fromEntries(byStatus.map((c) => [c.status, Number(c.n)])),
      byChannel: Object.fromEntries(byChannel.map((c) => [c.channel, Number(c.n)])),
    };
  }

  /** The ids of a run's messages in these statuses, in id order. */
  async runMessageIds(runId: number, statuses: MessageStatus[]): Promise<number[]> {
    return numbers(
      await this.knex<MessageRow>('kmc_messages').where('run_id', runId).whereIn('status', statuses).orderBy('id').pluck('id'),
    );
  }

  /** The staff queue's messages in one status (all of them when `status` is empty), not yet dealt with, unordered. */
  staffQueueMatches(f: Omit<StaffQueueFilter, 'cursor'>, status?: string): Knex.QueryBuilder {
    const q = this.knex<MessageRow>('kmc_messages as m')
      .leftJoin('kmc_queue_handled as h', 'h.message_id', 'm.id')
      .whereNull('h.message_id');
    if (status) q.where('m.status', status);
    else q.whereIn('m.status', f.status ? [f.status] : STAFF_QUEUE_STATUSES);
    if (f.channel) q.where('m.channel', f.channel);
    if (f.branch) q.where('m.branchcode', f.branch);
    if (f.type) q.where('m.message_type', f.type);
    return q;
  }

  /** How many messages the staff queue holds under this filter (the count its page shows), stopping at `COUNT_LIMIT`. */
  staffQueueCount(f: Omit<StaffQueueFilter, 'cursor'>): Promise<BoundedCount> {
    return boundedCount(this.knex, this.staffQueueMatches(f));
  }

  /**
   * The staff queue: failed and missing-contact messages nobody has dealt with yet, newest first, one page from
   * the cursor on. Each status is read along its own index range and the pages are merged, so no page sorts the
   * whole queue; the count stops at `COUNT_LIMIT`.
   */
  async staffQueue(f: StaffQueueFilter, pageSize: number): Promise<KeysetPage<QueuedMessage> & { total: BoundedCount }> {
    const cursor = await resolveCursor(this.knex, f.cursor);
    const statuses = f.status ? [f.status] : STAFF_QUEUE_STATUSES;
    const [parts, total] = await Promise.all([
      Promise.all(
        statuses.map((status) =>
          keysetOrder(this.staffQueueMatches(f, status), cursor, 'm.')
            .limit(pageSize + 1)
            .select<QueuedMessage[]>(QUEUED_COLUMNS),
        ),
      ),
      this.staffQueueCount(f),
    ]);
    const newest = (x: QueuedMessage, y: QueuedMessage) =>
      x.created_at === y.created_at ? y.id - x.id : x.created_at < y.created_at ? 1 : -1;
    const rows = parts.flat().sort(cursor?.direction === 'newer' ? (x, y) => newest(y, x) : newest);
    return { ...keysetPage(rows, cursor, pageSize), total };
  }

  // ---- Reads for the staff pages (./staff-reads) ----

  /** The archive: messages matching a search, newest first, one page, with how many match in all. */
  searchArchive(query: ArchiveQuery): Promise<ArchiveResult> {
    return searchArchive(this.knex, query);
  }

  /** One patron's messages for a list (no bodies), newest first. */
  listForPatron(borrowernumber: number, limit = 200): Promise<ListedMessage[]> {
    return listForPatron(this.knex, borrowernumber, limit);
  }

  /** Messages made since an instant, counted per library day (in `timeZone`), channel and status. */
  countsByDay(since: Date, timeZone: string): Promise<DayCountRow[]> {
    return countsByDay(this.knex, since, timeZone);
  }

  /** The commonest reasons of failure among messages made since `since`. */
  failureReasons(since: Date, limit: number): Promise<Array<{ reason: string; n: number }>> {
    return failureReasons(this.knex, since, limit);
  }

  /** How many messages are in each of these statuses. */
  countInStatuses(statuses: MessageStatus[]): Promise<Map<string, number>> {
    return countInStatuses(this.knex, statuses);
  }

  /** How many of these messages are still in the given status (e.g. SMS still `sent`, waiting for a receipt). */
  async countStillIn(ids: readonly number[], status: MessageStatus): Promise<number> {
    let n = 0;
    for (const part of chunk([...ids], 1000)) {
      const [row] = await this.knex<MessageRow>('kmc_messages')
        .whereIn('id', part)
        .where({ status })
        .count<Array<{ n: number | string }>>({ n: '*' });
      n += Number(row.n);
    }
    return n;
  }

  /** The messages of a run that become letters (`print`: those by letter; `all`: every one). */
  runLetterMessages(runId: number, which: 'print' | 'all'): Promise<LetterMessage[]> {
    return runLetterMessages(this.knex, runId, which);
  }

  /** Letters waiting to be printed, of one run or one branch. */
  lettersToPrint(where: { runId?: number; branchcode?: string | null }): Promise<LetterMessage[]> {
    return lettersToPrint(this.knex, where);
  }

  /** Letters by id, for the print folder's PDF. */
  lettersByIds(ids: number[]): Promise<LetterMessage[]> {
    return lettersByIds(this.knex, ids);
  }

  /** How many letters wait to be printed at each branch. */
  lettersToPrintByBranch(): Promise<Array<{ branchcode: string | null; n: number; oldest: string }>> {
    return lettersToPrintByBranch(this.knex);
  }

  /** Print: staff printed these letters; those still waiting move to `printed`. Returns the ids that moved. */
  confirmPrinted(args: ConfirmPrintedArgs): Promise<number[]> {
    return confirmPrinted(this.knex, args);
  }

  /** The held items a run's messages cover, for the pick list. */
  heldItemsOfRun(runId: number): Promise<HeldItemLine[]> {
    return heldItemsOfRun(this.knex, runId);
  }

  /** A run's SMS that failed or found no usable number. */
  smsErrorsOfRun(runId: number): Promise<SmsErrorLine[]> {
    return smsErrorsOfRun(this.knex, runId);
  }

  /** The message, if it is in the staff queue (failed or missing contact, not yet dealt with). */
  async inStaffQueue(id: number): Promise<MessageRow | null> {
    const row = await this.knex<MessageRow>('kmc_messages as m')
      .leftJoin('kmc_queue_handled as h', 'h.message_id', 'm.id')
      .where('m.id', id)
      .whereNull('h.message_id')
      .whereIn('m.status', STAFF_QUEUE_STATUSES)
      .first<MessageRow | undefined>('m.*');
    return row ?? null;
  }
}
