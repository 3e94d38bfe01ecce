/**
 * The run log (kmc_runs) and what staff decide about a run before approval
 * (kmc_run_approvals, kmc_review_messages, kmc_review_items). Every run is
 * recorded here: notice runs, routine runs by hand or by the scheduler, and
 * the nightly anonymisation. A scheduled fire (job, fire time) can be
 * recorded once only, so two sidecars sharing a database never both run it.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { fromDbTime, isDuplicateKey, toDbTime } from '../db';
import type { ChannelName, MessageStatus } from '../kernel';
import { isChannel } from '../kernel';

/** `abandoned`: the process doing the run stopped (killed, crashed) before it could say finished or failed. */
export type RunStatus = 'running' | 'finished' | 'failed' | 'abandoned';

/**
 * How long a run's lease lasts when its opener does not say: a day, for
 * jobs that do not renew it. Notice runs renew a short lease while they work.
 */
export const DEFAULT_RUN_LEASE_MS = 24 * 60 * 60 * 1000;

export interface RunRow {
  id: number;
  job: string;
  fire_time: string;
  run_date: string;
  message_type: string | null;
  branchcode: string | null;
  dry_run: number;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  started_by: string | null;
  stats: string | null;
  error: string | null;
  /** When the run last said it was working (database time, UTC). */
  heartbeat_at: string | null;
  /** A running run not renewed by then has lost its process (database time, UTC). */
  lease_until: string | null;
}

/**
 * A record from Koha a run could not use (an impossible date, a value the
 * database refused): who and what it was, and why. Kept in the run's stats
 * and shown on the run's page, so staff can have the record put right.
 */
export interface SkippedRecord {
  /** The reason code, as in the run's skipped counts. */
  reason: string;
  borrowernumber: number;
  issueId?: number;
  reserveId?: number;
  /** The value that was wrong, by its column in Koha, when one was. */
  field?: string;
  value?: string;
  /** The database's or the program's word for what went wrong. */
  detail?: string;
}

/** What a run passed over, by reason, and the notices another run had stored first: from its stats as stored. */
export function skipCountsOf(stats: string | null): { skippedBy: Record<string, number>; duplicates: number } {
  let parsed: unknown;
  try {
    parsed = stats ? JSON.parse(stats) : null;
  } catch {
    parsed = null;
  }
  const out = { skippedBy: {} as Record<string, number>, duplicates: 0 };
  if (typeof parsed !== 'object' || parsed === null) return out;
  const p = parsed as { skippedBy?: unknown; duplicates?: unknown };
  if (typeof p.skippedBy === 'object' && p.skippedBy !== null)
    for (const [reason, n] of Object.entries(p.skippedBy as Record<string, unknown>))
      if (typeof n === 'number' && n > 0) out.skippedBy[reason] = n;
  if (typeof p.duplicates === 'number' && p.duplicates > 0) out.duplicates = p.duplicates;
  return out;
}

/** The records a run skipped for their data, from its stats as stored. */
export function skippedRecordsOf(stats: string | null): SkippedRecord[] {
  if (!stats) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stats);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || !('skippedRecords' in parsed) || !Array.isArray(parsed.skippedRecords)) return [];
  const out: SkippedRecord[] = [];
  for (const entry of parsed.skippedRecords as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const r = new Map<string, unknown>(Object.entries(entry));
    const reason = r.get('reason');
    const borrowernumber = r.get('borrowernumber');
    if (typeof reason !== 'string' || typeof borrowernumber !== 'number') continue;
    const text = (k: string): string | undefined => (r.has(k) ? String(r.get(k)) : undefined);
    const id = (k: string): number | undefined => (r.has(k) ? Number(r.get(k)) : undefined);
    out.push({
      reason,
      borrowernumber,
      issueId: id('issueId'),
      reserveId: id('reserveId'),
      field: text('field'),
      value: text('value'),
      detail: text('detail'),
    });
  }
  return out;
}

export interface RunSummary extends RunRow {
  /** Records the run skipped because their data could not be used. */
  skippedRecords: SkippedRecord[];
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

/** What staff decided about one message of a run. */
export interface MessageReview {
  message_id: number;
  excluded: number;
  send_as: string | null;
}

interface ApprovalRow {
  run_id: number;
  approved_by: number;
  approved_at: string;
}

interface CountRow {
  n: number | string;
}

/** Statuses a run's message may have while staff review it. */
export const REVIEWABLE: MessageStatus[] = ['proposed', 'missing_contact'];

/** `routine:<id>` (scheduled) and `routine:<id>:manual:…` (run by hand) name the routine a run belongs to. */
export function routineIdOfJob(job: string): number | null {
  const m = /^routine:(\d+)(?::|$)/.exec(job);
  return m ? Number(m[1]) : null;
}

export interface OpenRun {
  job?: string;
  fireTime?: Date;
  runDate: string;
  messageType?: string | null;
  branchcode?: string | null;
  dryRun?: boolean;
  startedBy: string;
  at: Date;
  /** How long the run may go without renewing its lease before it counts as abandoned. */
  leaseMs?: number;
}

/** Whole seconds of a lease, at least one. */
function leaseSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export class RunStore {
  /**
   * @param routineNames the names of routines by id (the routines store answers), for the run lists
   */
  constructor(
    private readonly knex: Knex,
    private readonly routineNames: (ids: number[]) => Promise<Map<number, string>> = () => Promise.resolve(new Map<number, string>()),
  ) {}

  /**
   * Opens a run. Returns null when this (job, fire time) was already taken by
   * another instance, so the caller does nothing.
   */
  async open(args: OpenRun): Promise<number | null> {
    const job = args.job ?? `manual:${args.messageType ?? 'run'}:${randomUUID().slice(0, 8)}`;
    try {
      // Leases are kept in the database server's time, which every sidecar sharing it agrees on.
      const [id] = await this.knex('kmc_runs').insert({
        heartbeat_at: this.knex.raw('UTC_TIMESTAMP(3)'),
        lease_until: this.knex.raw('DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? SECOND)', [leaseSeconds(args.leaseMs ?? DEFAULT_RUN_LEASE_MS)]),
        job,
        fire_time: toDbTime(args.fireTime ?? args.at).slice(0, 19),
        run_date: args.runDate,
        message_type: args.messageType ?? null,
        branchcode: args.branchcode ?? null,
        dry_run: args.dryRun ? 1 : 0,
        status: 'running',
        started_at: toDbTime(args.at),
        started_by: args.startedBy,
      });
      return id;
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  /**
   * The run says it is still working: its lease runs for another `leaseMs`.
   * False when the run is no longer running (someone judged it abandoned).
   */
  async renew(id: number, leaseMs: number): Promise<boolean> {
    const n = await this.knex('kmc_runs')
      .where({ id, status: 'running' })
      .update({
        heartbeat_at: this.knex.raw('UTC_TIMESTAMP(3)'),
        lease_until: this.knex.raw('DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? SECOND)', [leaseSeconds(leaseMs)]),
      });
    return n > 0;
  }

  /**
   * Marks every run still `running` whose lease has passed as `abandoned`,
   * ended at its last heartbeat. Returns their ids. The next run and every
   * reader of the run log call it, so a run whose process died never stays
   * `running`.
   */
  async abandonStale(): Promise<number[]> {
    const stale = () => this.knex('kmc_runs').where('status', 'running').where('lease_until', '<', this.knex.raw('UTC_TIMESTAMP(3)'));
    const ids = (await stale().pluck<number[]>('id')).map(Number);
    if (!ids.length) return [];
    await stale()
      .whereIn('id', ids)
      .update({ status: 'abandoned', finished_at: this.knex.raw('COALESCE(heartbeat_at, started_at)') });
    return ids;
  }

  async finish(id: number, stats: unknown, at: Date): Promise<void> {
    await this.knex('kmc_runs')
      .where({ id })
      .update({ status: 'finished', finished_at: toDbTime(at), stats: JSON.stringify(stats) });
  }

  async fail(id: number, error: string, at: Date): Promise<void> {
    await this.knex('kmc_runs')
      .where({ id })
      .update({ status: 'failed', finished_at: toDbTime(at), error: error.slice(0, 2000) });
  }

  /** Whether a fire of a job was already recorded (by this or another instance). */
  async fireTaken(job: string, fireTime: Date): Promise<boolean> {
    return !!(await this.knex<RunRow>('kmc_runs')
      .where({ job, fire_time: toDbTime(fireTime).slice(0, 19) })
      .first('id'));
  }

  /** The latest fire of a job the run log holds (any outcome), or null when it never fired. */
  async lastFire(job: string): Promise<Date | null> {
    const rows = await this.knex<RunRow>('kmc_runs').where({ job }).max<Array<{ t: string | null }>>({ t: 'fire_time' });
    return fromDbTime(rows[0]?.t ?? null);
  }

  /**
   * When the first real (not dry) run of a message type started, whatever
   * its outcome, or null before there was one: what a library had before the
   * sidecar's first run of a type, Koha had already dealt with.
   */
  async firstRunStart(messageType: string): Promise<Date | null> {
    const rows = await this.knex<RunRow>('kmc_runs')
      .where({ message_type: messageType, dry_run: 0 })
      .min<Array<{ t: string | null }>>({ t: 'started_at' });
    return fromDbTime(rows[0]?.t ?? null);
  }

  /** The library day of the last finished real run of a message type on or before a day (the welcome notices count from it). */
  async lastFinishedDay(messageType: string, before: string): Promise<string | null> {
    const rows = await this.knex<RunRow>('kmc_runs')
      .where({ message_type: messageType, status: 'finished', dry_run: 0 })
      .where('run_date', '<=', before)
      .max<Array<{ d: string | null }>>({ d: 'run_date' });
    const d = rows[0]?.d;
    return d ? d.slice(0, 10) : null;
  }

  async status(id: number): Promise<RunStatus | null> {
    await this.abandonStale();
    return (await this.knex<RunRow>('kmc_runs').where({ id }).first('status'))?.status ?? null;
  }

  async get(id: number): Promise<RunSummary | null> {
    const rows = await this.summaries(this.knex<RunRow>('kmc_runs').where({ id }));
    return rows.length ? rows[0] : null;
  }

  /** Recent runs, newest first; `waiting` keeps those with messages waiting for approval. */
  async recent(opts: { limit: number; waiting?: boolean; routineId?: number | null }): Promise<RunSummary[]> {
    const q = this.knex<RunRow>('kmc_runs').where('job', 'not like', 'archive:%').orderBy('id', 'desc').limit(opts.limit);
    if (opts.waiting)
      q.whereExists((e) => {
        void e.select(this.knex.raw('1')).from('kmc_messages as pm').whereRaw('pm.run_id = kmc_runs.id').where('pm.status', 'proposed');
      });
    const routineId = opts.routineId;
    if (routineId)
      q.where((w) => {
        void w.where('job', `routine:${routineId}`).orWhere('job', 'like', `routine:${routineId}:%`);
      });
    return this.summaries(q);
  }

  private async summaries(q: Knex.QueryBuilder<RunRow, RunRow[]>): Promise<RunSummary[]> {
    await this.abandonStale();
    const runs = await q.select();
    if (!runs.length) return [];
    const ids = runs.map((r) => r.id);
    const counts = await this.knex('kmc_messages')
      .whereIn('run_id', ids)
      .groupBy('run_id')
      .select<Array<{ run_id: number; n: number | string; proposed: number | string | null; routine_id: number | null }>>(
        'run_id',
        this.knex.raw('COUNT(*) AS n'),
        this.knex.raw("SUM(status = 'proposed') AS proposed"),
        this.knex.raw('MAX(routine_id) AS routine_id'),
      );
    const byRun = new Map(counts.map((c) => [c.run_id, c]));
    const approvals = await this.knex<ApprovalRow>('kmc_run_approvals').whereIn('run_id', ids).select();
    const approved = new Map(approvals.map((a) => [a.run_id, a]));
    const routineOf = (r: RunRow): number | null => {
      const c = byRun.get(r.id);
      return routineIdOfJob(r.job) ?? (c?.routine_id ? c.routine_id : null);
    };
    const routineIds = new Set<number>();
    for (const r of runs) {
      const rid = routineOf(r);
      if (rid) routineIds.add(rid);
    }
    const names = routineIds.size ? await this.routineNames([...routineIds]) : new Map<number, string>();
    return runs.map((r) => {
      const c = byRun.get(r.id);
      const routineId = routineOf(r);
      const a = approved.get(r.id);
      return {
        ...r,
        id: r.id,
        skippedRecords: skippedRecordsOf(r.stats),
        routine_id: routineId,
        routine_name: routineId ? (names.get(routineId) ?? null) : null,
        messages: Number(c?.n ?? 0),
        proposed: Number(c?.proposed ?? 0),
        approved_by: a ? a.approved_by : null,
        approved_at: a?.approved_at ?? null,
      };
    });
  }

  /** How far a run has got: its status and the messages it has made so far. */
  async progress(runId: number): Promise<{ status: RunStatus; made: number } | null> {
    const status = await this.status(runId);
    if (!status) return null;
    const row = await this.knex('kmc_messages').where({ run_id: runId }).count<CountRow[]>({ n: '*' });
    return { status, made: Number(row[0]?.n ?? 0) };
  }

  // ---- Review and approval ----

  /** The run's messages with what staff decided so far, a page at a time (patrons view). */
  async reviewMessages(runId: number, page: number, pageSize: number): Promise<{ messages: ReviewMessage[]; total: number }> {
    const { knex } = this;
    const base = () => knex('kmc_messages as m').where('m.run_id', runId);
    const counted = await base().count<CountRow[]>({ n: '*' });
    const rows = await base()
      .leftJoin('kmc_review_messages as r', 'r.message_id', 'm.id')
      .orderBy('m.borrowernumber')
      .orderBy('m.id')
      .limit(pageSize)
      .offset((page - 1) * pageSize)
      .select<
        Array<Omit<ReviewMessage, 'excluded' | 'send_as' | 'items' | 'itemsLeftOut'> & { excluded: number | null; send_as: string | null }>
      >('m.id', 'm.borrowernumber', 'm.channel', 'm.status', 'm.status_reason', 'm.subject', 'r.excluded', 'r.send_as');
    const ids = rows.map((r) => r.id);
    const itemCounts = new Map<number, { n: number; out: number }>();
    if (ids.length) {
      const counts = await knex('kmc_message_items as i')
        .leftJoin('kmc_review_items as ri', 'ri.message_item_id', 'i.id')
        .whereIn('i.message_id', ids)
        .groupBy('i.message_id')
        .select<Array<{ message_id: number; n: number | string; out: number | string }>>(
          'i.message_id',
          knex.raw('COUNT(*) AS n'),
          knex.raw('COUNT(ri.message_item_id) AS `out`'),
        );
      for (const c of counts) itemCounts.set(c.message_id, { n: Number(c.n), out: Number(c.out) });
    }
    return {
      total: Number(counted[0]?.n ?? 0),
      messages: rows.map((r) => ({
        id: r.id,
        borrowernumber: r.borrowernumber,
        channel: r.channel,
        status: r.status,
        status_reason: r.status_reason,
        subject: r.subject,
        excluded: !!r.excluded,
        send_as: r.send_as !== null && isChannel(r.send_as) ? r.send_as : null,
        items: itemCounts.get(r.id)?.n ?? 0,
        itemsLeftOut: itemCounts.get(r.id)?.out ?? 0,
      })),
    };
  }

  /** The items the run's messages cover, with what staff decided (items view). */
  async reviewItems(runId: number, page: number, pageSize: number): Promise<{ items: ReviewItem[]; total: number }> {
    const { knex } = this;
    const base = () => knex('kmc_message_items as i').join('kmc_messages as m', 'm.id', 'i.message_id').where('m.run_id', runId);
    const counted = await base().count<CountRow[]>({ n: '*' });
    const rows = await base()
      .leftJoin('kmc_review_items as ri', 'ri.message_item_id', 'i.id')
      .leftJoin('kmc_review_messages as rm', 'rm.message_id', 'm.id')
      .orderBy('i.title')
      .orderBy('i.id')
      .limit(pageSize)
      .offset((page - 1) * pageSize)
      .select<Array<Omit<ReviewItem, 'excluded' | 'messageExcluded'> & { ri: number | null; rm: number | null }>>(
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
      total: Number(counted[0]?.n ?? 0),
      items: rows.map((r) => ({
        id: r.id,
        message_id: r.message_id,
        borrowernumber: r.borrowernumber,
        title: r.title,
        author: r.author,
        barcode: r.barcode,
        date_due: r.date_due,
        excluded: r.ri !== null,
        messageExcluded: !!r.rm,
      })),
    };
  }

  /**
   * Keeps what staff ticked on one page of the review: `shown` are the
   * messages (or items) the page showed, `keep` those left ticked. Only
   * this run's messages still under review can be changed.
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
    at: Date,
  ): Promise<{ changed: number }> {
    const when = toDbTime(at);
    let changed = 0;
    await this.knex.transaction(async (trx) => {
      const messages = posted.shownMessages.length
        ? await trx('kmc_messages')
            .where('run_id', runId)
            .whereIn('id', posted.shownMessages)
            .whereIn('status', REVIEWABLE)
            .select<Array<{ id: number; channel: ChannelName }>>('id', 'channel')
        : [];
      for (const m of messages) {
        const id = m.id;
        const sendAs = posted.sendAs.get(id) ?? null;
        const row = {
          message_id: id,
          run_id: runId,
          excluded: posted.keepMessages.has(id) ? 0 : 1,
          send_as: sendAs && sendAs !== m.channel ? sendAs : null,
          updated_by: staffNumber,
          updated_at: when,
        };
        const before = await trx<MessageReview>('kmc_review_messages').where({ message_id: id }).first('excluded', 'send_as');
        if ((before?.excluded ?? 0) === row.excluded && (before?.send_as ?? null) === row.send_as) continue;
        await trx('kmc_review_messages').insert(row).onConflict('message_id').merge();
        changed += 1;
      }
      if (posted.shownItems.length) {
        const items = await trx('kmc_message_items as i')
          .join('kmc_messages as m', 'm.id', 'i.message_id')
          .where('m.run_id', runId)
          .whereIn('m.status', REVIEWABLE)
          .whereIn('i.id', posted.shownItems)
          .select<Array<{ id: number; message_id: number }>>('i.id', 'i.message_id');
        const out = items.filter((i) => !posted.keepItems.has(i.id));
        const kept = items.filter((i) => posted.keepItems.has(i.id)).map((i) => i.id);
        if (kept.length) changed += await trx('kmc_review_items').whereIn('message_item_id', kept).delete();
        for (const i of out) {
          const inserted: unknown = await trx('kmc_review_items')
            .insert({ message_item_id: i.id, message_id: i.message_id, run_id: runId, updated_by: staffNumber, updated_at: when })
            .onConflict('message_item_id')
            .ignore();
          changed += Array.isArray(inserted) && Number(inserted[0]) ? 1 : 0;
        }
      }
    });
    return { changed };
  }

  /** What staff decided about these messages: left out or sent by another channel. */
  async messageReviews(messageIds: number[]): Promise<Map<number, MessageReview>> {
    if (!messageIds.length) return new Map();
    const rows = await this.knex<MessageReview>('kmc_review_messages').whereIn('message_id', messageIds).select();
    return new Map(rows.map((r) => [r.message_id, r]));
  }

  /** The items of these messages that staff left out. */
  async itemsLeftOut(messageIds: number[]): Promise<Set<number>> {
    if (!messageIds.length) return new Set();
    const ids = await this.knex<{ message_item_id: number; message_id: number }>('kmc_review_items')
      .whereIn('message_id', messageIds)
      .pluck('message_item_id');
    return new Set(ids.map(Number));
  }

  async isApproved(runId: number): Promise<boolean> {
    return !!(await this.knex<ApprovalRow>('kmc_run_approvals').where({ run_id: runId }).first('run_id'));
  }

  /** Takes the approval of a run; false when someone else already approved it. */
  async claimApproval(runId: number, staffNumber: number, at: Date): Promise<boolean> {
    try {
      await this.knex('kmc_run_approvals').insert({ run_id: runId, approved_by: staffNumber, approved_at: toDbTime(at) });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** Gives an approval back (it failed half way), so staff can approve again. */
  async dropApproval(runId: number): Promise<void> {
    await this.knex('kmc_run_approvals').where({ run_id: runId }).delete();
  }

  async recordApproval(runId: number, counts: { queued: number; cancelled: number; itemsRemoved: number }): Promise<void> {
    await this.knex('kmc_run_approvals')
      .where({ run_id: runId })
      .update({ queued: counts.queued, cancelled: counts.cancelled, items_removed: counts.itemsRemoved });
  }
}
