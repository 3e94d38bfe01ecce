/**
 * The message store: queue and archive in one table. Messages are created
 * once (idempotency key and per-loan coverage are unique in the database),
 * claimed with FOR UPDATE SKIP LOCKED so several sidecars can share a queue,
 * and every status change is written to the event log with its reason.
 */
import type { Knex } from 'knex';
import { fromDbTime, isDuplicateKey, toDbTime } from '../db';
import type { ChannelName } from '../channels/contract';
import { EVENT_COLUMNS, ITEM_COLUMNS, MESSAGE_COLUMNS, idsAreConsecutive, inWriteTransaction } from './insert';

import { MESSAGE_STATUSES, type MessageStatus } from '../kernel';
export { MESSAGE_STATUSES, type MessageStatus };

export interface NewMessageItem {
  coverageKey: string | null;
  issueId?: number | null;
  reserveId?: number | null;
  itemnumber?: number | null;
  biblionumber?: number | null;
  barcode?: string | null;
  title?: string | null;
  author?: string | null;
  dateDue?: string | null;
  fee?: number;
}

export interface NewMessage {
  idempotencyKey: string;
  messageType: string;
  level: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: ChannelName;
  status: Extract<MessageStatus, 'proposed' | 'held' | 'pending' | 'missing_contact'>;
  statusReason?: string | null;
  to: string | null;
  from: string | null;
  replyTo?: string | null;
  lang: string | null;
  subject: string;
  text: string;
  html: string | null;
  fee: number;
  runId: number | null;
  ruleId: number | null;
  /** The plain template data it was rendered from, kept so it can be rendered again by another channel. */
  renderData?: unknown;
  /** The library day (YYYY-MM-DD) the notice was made for; later overdue levels count from it. */
  noticeDate?: string | null;
  routineId?: number | null;
  items: NewMessageItem[];
}

export interface MessageRow {
  id: number;
  idempotency_key: string;
  message_type: string;
  level: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: ChannelName;
  status: MessageStatus;
  status_reason: string | null;
  to_address: string | null;
  from_address: string | null;
  reply_to: string | null;
  lang: string | null;
  subject: string | null;
  body_text: string | null;
  body_html: string | null;
  fee: string;
  run_id: number | null;
  attempts: number;
  next_attempt_at: string | null;
  lease_until: string | null;
  claimed_by: string | null;
  message_id_header: string | null;
  provider_id: string | null;
  /** The SMS account (system_id@host:port) that gave provider_id; null for e-mail and print. */
  provider_account?: string | null;
  last_reply: string | null;
  created_at: string;
  first_sent_at: string | null;
  updated_at: string;
}

export interface MessageItemRow {
  message_id: number;
  issue_id: number | null;
  reserve_id: number | null;
  itemnumber: number | null;
  barcode: string | null;
  title: string | null;
  author: string | null;
  date_due: string | null;
  fee: string;
}

export interface MessageEventRow {
  message_id: number;
  at: string;
  status: MessageStatus;
  detail: string | null;
  actor: string | null;
}

export interface InsertResult {
  created: number;
  duplicates: number;
  ids: number[];
}

const chunk = <T>(list: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
};

/** A new message as a row of MESSAGE_COLUMNS, in their order. */
function messageValues(m: NewMessage, now: string): Array<string | number | null> {
  return [
    m.idempotencyKey,
    m.messageType,
    m.level,
    m.borrowernumber,
    m.branchcode ?? null,
    m.channel,
    m.status,
    m.statusReason ?? null,
    m.to ?? null,
    m.from ?? null,
    m.replyTo ?? null,
    m.lang ?? null,
    m.subject.slice(0, 255),
    m.text,
    m.html ?? null,
    m.fee,
    m.runId ?? null,
    m.ruleId ?? null,
    m.renderData === undefined ? null : JSON.stringify(m.renderData),
    m.noticeDate ?? null,
    m.routineId ?? null,
    0,
    m.status === 'pending' ? now : null,
    now,
    now,
  ];
}

/** One item of a stored message as a row of ITEM_COLUMNS. */
function itemValues(messageId: number, it: NewMessageItem): Array<string | number | null> {
  return [
    messageId,
    it.coverageKey ?? null,
    it.issueId ?? null,
    it.reserveId ?? null,
    it.itemnumber ?? null,
    it.biblionumber ?? null,
    it.barcode ?? null,
    it.title ?? null,
    it.author ?? null,
    it.dateDue ?? null,
    it.fee ?? 0,
  ];
}

/** How a claimed message moves on after one attempt. */
export interface CompletionChange {
  status: Extract<MessageStatus, 'sent' | 'pending' | 'failed'>;
  detail: string;
  at: Date;
  providerId?: string | null;
  /** The SMS account that gave providerId; receipts are matched on both. */
  providerAccount?: string | null;
  reply?: string | null;
  messageIdHeader?: string | null;
  nextAttemptAt?: Date | null;
  reason?: string | null;
  /** The message's channel: receipts are looked for only for SMS (all when absent). */
  channel?: ChannelName;
}

/** A delivery receipt as the SMS channel read it. */
export interface SmsReceipt {
  providerId: string;
  state: 'delivered' | 'failed' | 'other';
  stat: string;
  err?: string;
  /** The SMS account it came in on (system_id@host:port). */
  account?: string | null;
}

export interface SmsReceiptRow {
  id: number;
  provider_id: string;
  provider_account: string;
  state: SmsReceipt['state'];
  stat: string;
  err: string | null;
  received_at: string;
  applied_at: string | null;
  message_id: number | null;
}

export interface QueueQuery {
  statuses: MessageStatus[];
  channel?: ChannelName | null;
  branchcode?: string | null;
  messageType?: string | null;
  borrowernumber?: number | null;
  /** Read messages older than this id (the previous page's nextBeforeId). */
  beforeId?: number | null;
  /** Page size, 1 to 500 (default 50). */
  limit?: number;
}

export interface QueuePage {
  messages: MessageRow[];
  /** How many messages match, over all pages. */
  total: number;
  nextBeforeId: number | null;
}

function toReceipt(r: SmsReceiptRow): SmsReceipt {
  return { providerId: r.provider_id, state: r.state, stat: r.stat, err: r.err ?? undefined, account: r.provider_account };
}

/** Moves a sent message by its receipt and writes the event; returns the status it ends in. */
async function applyReceipt(
  trx: Knex.Transaction,
  message: { id: number; status: MessageStatus },
  receipt: SmsReceipt,
  at: Date,
): Promise<MessageStatus> {
  const now = toDbTime(at);
  const words = `${receipt.stat}${receipt.err && receipt.err !== '000' ? ` (err ${receipt.err})` : ''}`;
  const actor = `smsc:${receipt.account ?? ''}`.slice(0, 64);
  if (message.status !== 'sent') return message.status;
  if (receipt.state === 'other') {
    // An intermediate report (ENROUTE, ACCEPTD ...): history only, the message stays sent.
    await trx('kmc_message_events').insert({ message_id: message.id, at: now, status: 'sent', detail: `delivery report: ${words}`, actor });
    return 'sent';
  }
  const status: MessageStatus = receipt.state === 'delivered' ? 'delivered' : 'failed';
  const reason = status === 'failed' ? `SMS_NOT_DELIVERED: the SMSC reports ${words}`.slice(0, 255) : null;
  await trx('kmc_messages').where({ id: message.id, status: 'sent' }).update({ status, status_reason: reason, updated_at: now });
  await trx('kmc_message_events').insert({ message_id: message.id, at: now, status, detail: `delivery receipt: ${words}`, actor });
  return status;
}

const LOCK_ERRORS = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/** InnoDB may pick one of two crossing transactions as a deadlock victim; trying again is the cure. */
async function withLockRetry<T>(fn: () => Promise<T>, tries = 4, codes: ReadonlySet<string> = LOCK_ERRORS): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= tries || !codes.has((err as { code?: string }).code ?? '')) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}

/**
 * Tries for one batch of new messages: a deadlock victim is written again
 * after a short jittered wait. A lock wait timeout is not retried here: it
 * already waited innodb_lock_wait_timeout and says something holds the rows.
 */
const INSERT_TRIES = 8;
const DEADLOCK = new Set(['ER_LOCK_DEADLOCK']);

export class MessageStore {
  /** Whether the server gives a multi-row INSERT consecutive ids (asked once). */
  private consecutiveIds: Promise<boolean> | null = null;

  constructor(private readonly knex: Knex) {}

  /**
   * Stores new messages with what they cover. A message whose key exists is
   * a duplicate and is skipped; a loan already covered at the same level makes
   * its message a duplicate too, whichever instance got there first. A batch
   * chosen as a deadlock victim (two sidecars writing the same loans) is
   * rolled back whole by the database and written again.
   */
  async insertMessages(messages: NewMessage[], at: Date, actor: string): Promise<InsertResult> {
    const result: InsertResult = { created: 0, duplicates: 0, ids: [] };
    for (const batch of chunk(messages, 500)) {
      // The usual case first: the generators leave out what is covered, so every message is new.
      try {
        await withLockRetry(() => this.insertBatch(batch, at, actor, result, false), INSERT_TRIES, DEADLOCK);
        continue;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      try {
        await withLockRetry(() => this.insertBatch(batch, at, actor, result, true), INSERT_TRIES, DEADLOCK);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another instance raced us inside this batch: settle message by message.
        for (const m of batch) {
          try {
            await withLockRetry(() => this.insertBatch([m], at, actor, result, true), INSERT_TRIES, DEADLOCK);
          } catch (inner) {
            if (!isDuplicateKey(inner)) throw inner;
            result.duplicates += 1;
          }
        }
      }
    }
    return result;
  }

  /** One transaction for a batch: its messages, their items and their first events. */
  private async insertBatch(batch: NewMessage[], at: Date, actor: string, result: InsertResult, skipStored: boolean): Promise<void> {
    const consecutive = await (this.consecutiveIds ??= idsAreConsecutive(this.knex));
    const now = toDbTime(at);
    const local = await inWriteTransaction(this.knex, async (tx) => {
      let fresh = batch;
      if (skipStored) {
        const stored = await tx.query<Array<{ idempotency_key: string }>>(
          'SELECT idempotency_key FROM kmc_messages WHERE idempotency_key IN (?)',
          [batch.map((m) => m.idempotencyKey)],
        );
        const storedKeys = new Set(stored.map((r) => r.idempotency_key));
        fresh = batch.filter((m) => !storedKeys.has(m.idempotencyKey));
      }
      if (!fresh.length) return { created: 0, duplicates: batch.length, ids: [] as number[] };
      const statements = await tx.insert(
        'kmc_messages',
        MESSAGE_COLUMNS,
        fresh.map((m) => messageValues(m, now)),
      );
      let ids: number[];
      if (consecutive) {
        ids = [];
        for (const s of statements) for (let i = 0; i < s.rows; i += 1) ids.push(s.firstId + i);
      } else {
        const rows = await tx.query<Array<{ id: number; idempotency_key: string }>>(
          'SELECT id, idempotency_key FROM kmc_messages WHERE idempotency_key IN (?)',
          [fresh.map((m) => m.idempotencyKey)],
        );
        const idByKey = new Map(rows.map((r) => [r.idempotency_key, Number(r.id)]));
        ids = fresh.map((m) => idByKey.get(m.idempotencyKey)!);
      }
      const items: Array<Array<string | number | null>> = [];
      const events: Array<Array<string | number | null>> = [];
      fresh.forEach((m, i) => {
        for (const it of m.items) items.push(itemValues(ids[i], it));
        events.push([ids[i], now, m.status, m.statusReason ?? 'created', actor]);
      });
      if (items.length) await tx.insert('kmc_message_items', ITEM_COLUMNS, items);
      await tx.insert('kmc_message_events', EVENT_COLUMNS, events);
      return { created: fresh.length, duplicates: batch.length - fresh.length, ids };
    });
    // Counted only once the transaction has committed.
    result.created += local.created;
    result.duplicates += local.duplicates;
    result.ids.push(...local.ids);
  }

  /** Which of these coverage keys (type:level:issue:N) are already covered by a message. */
  async coveredKeys(keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunk(keys, 1000)) {
      const rows = (await this.knex('kmc_message_items').whereIn('coverage_key', part).pluck('coverage_key')) as string[];
      for (const k of rows) out.add(k);
    }
    return out;
  }

  /**
   * Claims due messages for one worker: locked rows of other workers are
   * skipped, claimed rows get a lease; an expired lease puts them back.
   * Read committed: only the rows taken are locked, no ranges, so a claim
   * does not block workers recording outcomes at the same time.
   */
  async claimDue(opts: { channels: ChannelName[]; limit: number; workerId: string; leaseMs: number; now: Date }): Promise<MessageRow[]> {
    if (!opts.channels.length) return [];
    const now = toDbTime(opts.now);
    const leaseUntil = toDbTime(new Date(opts.now.getTime() + opts.leaseMs));
    return withLockRetry(() =>
      this.knex.transaction(
        async (trx) => {
          // The claim index gives rows in due order, so the scan stops (and locks) after the batch.
          const ids = (await trx
            .from(trx.raw('?? FORCE INDEX (kmc_messages_claim)', ['kmc_messages']))
            .where('status', 'pending')
            .whereIn('channel', opts.channels)
            .where((q) => q.whereNull('next_attempt_at').orWhere('next_attempt_at', '<=', now))
            .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
            .limit(opts.limit)
            .forUpdate()
            .skipLocked()
            .pluck('id')) as number[];
          if (!ids.length) return [];
          await trx('kmc_messages')
            .whereIn('id', ids)
            .update({
              status: 'sending',
              lease_until: leaseUntil,
              claimed_by: opts.workerId,
              updated_at: now,
              attempts: trx.raw('attempts + 1'),
            });
          await trx('kmc_message_events').insert(
            ids.map((id) => ({ message_id: id, at: now, status: 'sending', detail: null, actor: opts.workerId })),
          );
          return trx('kmc_messages').whereIn('id', ids).orderBy('id').select();
        },
        { isolationLevel: 'read committed' },
      ),
    );
  }

  /**
   * Renews the lease of messages a live worker still holds, so a slow send
   * never loses its claim; only a worker that died stops renewing.
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

  /** Messages left in `sending` by a worker that died go back to the queue. */
  async releaseExpiredLeases(now: Date, actor: string): Promise<number> {
    const at = toDbTime(now);
    return withLockRetry(() =>
      this.knex.transaction(
        async (trx) => {
          const ids = (await trx('kmc_messages')
            .where('status', 'sending')
            .where('lease_until', '<', at)
            .forUpdate()
            .skipLocked()
            .pluck('id')) as number[];
          if (!ids.length) return 0;
          await trx('kmc_messages')
            .whereIn('id', ids)
            .update({ status: 'pending', claimed_by: null, lease_until: null, next_attempt_at: at, updated_at: at });
          await trx('kmc_message_events').insert(
            ids.map((id) => ({
              message_id: id,
              at,
              status: 'pending',
              detail: 'lease expired: the worker stopped before it finished (if it had been handed over, it goes out again)',
              actor,
            })),
          );
          return ids.length;
        },
        { isolationLevel: 'read committed' },
      ),
    );
  }

  /**
   * Puts messages this worker claimed but never handed to a channel back in
   * the queue at once (a stopping worker), without waiting for the lease.
   * The claim's attempt is given back, since nothing was tried.
   */
  async releaseClaimed(ids: number[], workerId: string, at: Date, reason: string): Promise<number> {
    if (!ids.length) return 0;
    const now = toDbTime(at);
    return withLockRetry(() =>
      this.knex.transaction(async (trx) => {
        const mine = (await trx('kmc_messages')
          .whereIn('id', ids)
          .where({ status: 'sending', claimed_by: workerId })
          .forUpdate()
          .pluck('id')) as number[];
        if (!mine.length) return 0;
        await trx('kmc_messages')
          .whereIn('id', mine)
          .update({
            status: 'pending',
            claimed_by: null,
            lease_until: null,
            next_attempt_at: now,
            updated_at: now,
            attempts: trx.raw('GREATEST(attempts - 1, 0)'),
          });
        await trx('kmc_message_events').insert(
          mine.map((id) => ({ message_id: id, at: now, status: 'pending', detail: reason, actor: workerId })),
        );
        return mine.length;
      }),
    );
  }

  /**
   * Moves a claimed message on. Guarded by the claim: a worker whose lease ran
   * out and whose message was claimed again cannot overwrite the newer state.
   */
  async complete(id: number, workerId: string, change: CompletionChange): Promise<boolean> {
    const [done] = await this.completeMany(workerId, [{ id, ...change }]);
    return done;
  }

  /**
   * Records the outcomes of many claimed messages in one transaction (one
   * commit for the lot), each guarded by the claim as in complete(). A
   * receipt that arrived before `sent` was stored is applied here. Returns,
   * per change, whether it was recorded.
   */
  async completeMany(workerId: string, changes: Array<CompletionChange & { id: number }>): Promise<boolean[]> {
    if (!changes.length) return [];
    return withLockRetry(() =>
      this.knex.transaction(async (trx) => {
        // Lock the rows still ours; a message whose lease ran out and was claimed again is left alone.
        const owned = new Set(
          (
            (await trx('kmc_messages')
              .whereIn(
                'id',
                changes.map((c) => c.id),
              )
              .where({ status: 'sending', claimed_by: workerId })
              .forUpdate()
              .pluck('id')) as number[]
          ).map(Number),
        );
        const mine = changes.filter((c) => owned.has(c.id));
        if (mine.length) {
          // One statement for the whole group: each row takes its own values from a derived table.
          const cols =
            '? AS id, ? AS status, ? AS status_reason, ? AS updated_at, ? AS last_reply, ? AS next_attempt_at, ? AS has_provider, ? AS provider_id, ? AS has_account, ? AS provider_account, ? AS has_header, ? AS message_id_header';
          const rows = mine.map((_, i) => (i === 0 ? `SELECT ${cols}` : 'SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?')).join(' UNION ALL ');
          const bindings = mine.flatMap((c) => [
            c.id,
            c.status,
            c.reason ?? null,
            toDbTime(c.at),
            c.reply ?? null,
            c.nextAttemptAt ? toDbTime(c.nextAttemptAt) : null,
            c.providerId !== undefined ? 1 : 0,
            c.providerId ?? null,
            c.providerAccount !== undefined ? 1 : 0,
            c.providerAccount ?? null,
            c.messageIdHeader !== undefined ? 1 : 0,
            c.messageIdHeader ?? null,
          ]);
          await trx.raw(
            `UPDATE kmc_messages m JOIN (${rows}) v ON m.id = v.id
             SET m.status = v.status, m.status_reason = v.status_reason, m.updated_at = v.updated_at,
                 m.lease_until = NULL, m.claimed_by = NULL, m.last_reply = v.last_reply, m.next_attempt_at = v.next_attempt_at,
                 m.provider_id = IF(v.has_provider = 1, v.provider_id, m.provider_id),
                 m.provider_account = IF(v.has_account = 1, v.provider_account, m.provider_account),
                 m.message_id_header = IF(v.has_header = 1, v.message_id_header, m.message_id_header),
                 m.first_sent_at = IF(v.status = 'sent', COALESCE(m.first_sent_at, v.updated_at), m.first_sent_at)
             WHERE m.status = 'sending' AND m.claimed_by = ?`,
            [...bindings, workerId],
          );
          await trx('kmc_message_events').insert(
            mine.map((c) => ({ message_id: c.id, at: toDbTime(c.at), status: c.status, detail: c.detail, actor: workerId })),
          );
          const sentWithId = mine
            .filter((c) => c.status === 'sent' && c.providerId && (c.channel === undefined || c.channel === 'sms'))
            .map((c) => ({ id: c.id, providerId: c.providerId as string, account: c.providerAccount ?? '' }));
          if (sentWithId.length) await this.applyWaitingReceipts(trx, sentWithId, mine[0].at);
        }
        return changes.map((c) => owned.has(c.id));
      }),
    );
  }

  /** Receipts that came before their message was stored as sent are applied now, oldest first. */
  private async applyWaitingReceipts(
    trx: Knex.Transaction,
    sent: Array<{ id: number; providerId: string; account: string }>,
    at: Date,
  ): Promise<void> {
    const waiting: SmsReceiptRow[] = await trx('kmc_sms_receipts')
      .whereIn(
        'provider_id',
        sent.map((s) => s.providerId),
      )
      .whereNull('applied_at')
      .orderBy('id')
      .forUpdate()
      .select();
    if (!waiting.length) return;
    const status = new Map<number, MessageStatus>();
    for (const r of waiting) {
      const message = sent.find((s) => s.providerId === r.provider_id && s.account === r.provider_account);
      if (!message) continue;
      const current = status.get(message.id) ?? 'sent';
      status.set(message.id, await applyReceipt(trx, { id: message.id, status: current }, toReceipt(r), at));
      await trx('kmc_sms_receipts')
        .where({ id: r.id })
        .update({ applied_at: toDbTime(at), message_id: message.id });
    }
  }

  /**
   * A delivery receipt from the SMSC: moves the sent message it names to
   * `delivered` or `failed` (an intermediate one is only written to its
   * history). A receipt for a message not yet stored as sent is kept and
   * applied when it is; nothing is dropped. Safe to call again with the same
   * receipt (an SMSC may offer it twice).
   */
  async recordReceipt(receipt: SmsReceipt, at: Date): Promise<'applied' | 'kept' | 'duplicate'> {
    const account = receipt.account ?? '';
    return withLockRetry(() =>
      this.knex.transaction(async (trx) => {
        // A locking read: it waits for (or holds off) a worker storing `sent` with this id right now.
        const rows: Array<{ id: number; status: MessageStatus; provider_account: string | null }> = await trx('kmc_messages')
          .where({ provider_id: receipt.providerId, channel: 'sms' })
          .forUpdate()
          .select('id', 'status', 'provider_account');
        const match = rows.find((r) => (r.provider_account ?? '') === account) ?? rows.find((r) => r.provider_account === null);
        if (!match) {
          await trx('kmc_sms_receipts').insert({
            provider_id: receipt.providerId,
            provider_account: account,
            state: receipt.state,
            stat: receipt.stat.slice(0, 32),
            err: receipt.err?.slice(0, 16) ?? null,
            received_at: toDbTime(at),
          });
          return 'kept';
        }
        if (match.status !== 'sent') return 'duplicate';
        await applyReceipt(trx, { id: Number(match.id), status: match.status }, receipt, at);
        return 'applied';
      }),
    );
  }

  /** Receipts still waiting for their message (for the staff pages and tests). */
  async waitingReceipts(limit = 100): Promise<SmsReceiptRow[]> {
    return this.knex('kmc_sms_receipts').whereNull('applied_at').orderBy('id').limit(limit);
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
      const q = this.knex('kmc_messages').whereIn('status', query.statuses);
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
    const counted = (await filtered().count({ n: '*' }).first()) as { n: number | string } | undefined;
    const messages = rows.slice(0, limit);
    return {
      messages,
      total: Number(counted?.n ?? 0),
      nextBeforeId: rows.length > limit ? Number(messages[messages.length - 1].id) : null,
    };
  }

  async get(id: number): Promise<MessageRow | null> {
    return ((await this.knex('kmc_messages').where({ id }).first()) as MessageRow | undefined) ?? null;
  }

  async items(messageIds: number[]): Promise<MessageItemRow[]> {
    if (!messageIds.length) return [];
    return this.knex('kmc_message_items').whereIn('message_id', messageIds).orderBy(['message_id', 'id']).select();
  }

  async events(messageId: number): Promise<MessageEventRow[]> {
    return this.knex('kmc_message_events').where({ message_id: messageId }).orderBy(['at', 'id']).select();
  }

  async forBorrower(borrowernumber: number, limit = 200): Promise<MessageRow[]> {
    return this.knex('kmc_messages')
      .where({ borrowernumber })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit);
  }

  async recent(limit = 100): Promise<MessageRow[]> {
    return this.knex('kmc_messages').orderBy('id', 'desc').limit(limit);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows: Array<{ status: string; n: number }> = await this.knex('kmc_messages').groupBy('status').select('status').count({ n: '*' });
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

export { fromDbTime };
