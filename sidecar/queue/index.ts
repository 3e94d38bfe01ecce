/**
 * The message store: queue and archive in one table. Messages are created
 * once (idempotency key and per-loan coverage are unique in the database),
 * claimed with FOR UPDATE SKIP LOCKED so several sidecars can share a queue,
 * and every status change is written to the event log with its reason.
 */
import type { Knex } from 'knex';
import { fromDbTime, isDuplicateKey, toDbTime } from '../db';
import type { ChannelName } from '../channels/contract';

export const MESSAGE_STATUSES = [
  'proposed', 'held', 'pending', 'sending', 'sent', 'delivered', 'failed', 'missing_contact', 'cancelled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

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

function messageRow(m: NewMessage, now: string) {
  return {
    idempotency_key: m.idempotencyKey,
    message_type: m.messageType,
    level: m.level,
    borrowernumber: m.borrowernumber,
    branchcode: m.branchcode,
    channel: m.channel,
    status: m.status,
    status_reason: m.statusReason ?? null,
    to_address: m.to,
    from_address: m.from,
    reply_to: m.replyTo ?? null,
    lang: m.lang,
    subject: m.subject.slice(0, 255),
    body_text: m.text,
    body_html: m.html,
    fee: m.fee,
    run_id: m.runId,
    rule_id: m.ruleId,
    attempts: 0,
    next_attempt_at: m.status === 'pending' ? now : null,
    created_at: now,
    updated_at: now,
  };
}

export class MessageStore {
  constructor(private readonly knex: Knex) {}

  /**
   * Stores new messages with what they cover. A message whose key exists is
   * a duplicate and is skipped; a loan already covered at the same level makes
   * its message a duplicate too, whichever instance got there first.
   */
  async insertMessages(messages: NewMessage[], at: Date, actor: string): Promise<InsertResult> {
    const result: InsertResult = { created: 0, duplicates: 0, ids: [] };
    for (const batch of chunk(messages, 500)) {
      try {
        await this.knex.transaction((trx) => this.insertBatch(trx, batch, at, actor, result));
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another instance raced us inside this batch: settle message by message.
        for (const m of batch) {
          try {
            await this.knex.transaction((trx) => this.insertBatch(trx, [m], at, actor, result));
          } catch (inner) {
            if (!isDuplicateKey(inner)) throw inner;
            result.duplicates += 1;
          }
        }
      }
    }
    return result;
  }

  private async insertBatch(trx: Knex.Transaction, batch: NewMessage[], at: Date, actor: string, result: InsertResult) {
    const now = toDbTime(at);
    const existing = new Set<string>(
      (await trx('kmc_messages').whereIn('idempotency_key', batch.map((m) => m.idempotencyKey)).pluck('idempotency_key')) as string[],
    );
    const fresh = batch.filter((m) => !existing.has(m.idempotencyKey));
    const local = { created: 0, duplicates: batch.length - fresh.length, ids: [] as number[] };
    if (fresh.length) {
      await trx('kmc_messages').insert(fresh.map((m) => messageRow(m, now)));
      const idRows: Array<{ id: number; idempotency_key: string }> = await trx('kmc_messages')
        .whereIn('idempotency_key', fresh.map((m) => m.idempotencyKey))
        .select('id', 'idempotency_key');
      const idByKey = new Map(idRows.map((r) => [r.idempotency_key, Number(r.id)]));
      const items = fresh.flatMap((m) =>
        m.items.map((it) => ({
          message_id: idByKey.get(m.idempotencyKey)!,
          coverage_key: it.coverageKey,
          issue_id: it.issueId ?? null,
          reserve_id: it.reserveId ?? null,
          itemnumber: it.itemnumber ?? null,
          biblionumber: it.biblionumber ?? null,
          barcode: it.barcode ?? null,
          title: it.title ?? null,
          author: it.author ?? null,
          date_due: it.dateDue ?? null,
          fee: it.fee ?? 0,
        })),
      );
      for (const part of chunk(items, 1000)) await trx('kmc_message_items').insert(part);
      const events = fresh.map((m) => ({
        message_id: idByKey.get(m.idempotencyKey)!,
        at: now,
        status: m.status,
        detail: m.statusReason ?? 'created',
        actor,
      }));
      for (const part of chunk(events, 1000)) await trx('kmc_message_events').insert(part);
      local.created = fresh.length;
      local.ids = fresh.map((m) => idByKey.get(m.idempotencyKey)!);
    }
    // Only count once the transaction is sure to commit.
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
   */
  async claimDue(opts: { channels: ChannelName[]; limit: number; workerId: string; leaseMs: number; now: Date }): Promise<MessageRow[]> {
    if (!opts.channels.length) return [];
    const now = toDbTime(opts.now);
    const leaseUntil = toDbTime(new Date(opts.now.getTime() + opts.leaseMs));
    return this.knex.transaction(async (trx) => {
      const ids = (await trx('kmc_messages')
        .where('status', 'pending')
        .whereIn('channel', opts.channels)
        .where((q) => q.whereNull('next_attempt_at').orWhere('next_attempt_at', '<=', now))
        .orderBy('id')
        .limit(opts.limit)
        .forUpdate()
        .skipLocked()
        .pluck('id')) as number[];
      if (!ids.length) return [];
      await trx('kmc_messages')
        .whereIn('id', ids)
        .update({ status: 'sending', lease_until: leaseUntil, claimed_by: opts.workerId, updated_at: now, attempts: trx.raw('attempts + 1') });
      await trx('kmc_message_events').insert(ids.map((id) => ({ message_id: id, at: now, status: 'sending', detail: null, actor: opts.workerId })));
      return trx('kmc_messages').whereIn('id', ids).orderBy('id').select();
    });
  }

  /** Messages left in `sending` by a worker that died go back to the queue. */
  async releaseExpiredLeases(now: Date, actor: string): Promise<number> {
    const at = toDbTime(now);
    return this.knex.transaction(async (trx) => {
      const ids = (await trx('kmc_messages')
        .where('status', 'sending')
        .where('lease_until', '<', at)
        .forUpdate()
        .skipLocked()
        .pluck('id')) as number[];
      if (!ids.length) return 0;
      await trx('kmc_messages').whereIn('id', ids).update({ status: 'pending', claimed_by: null, lease_until: null, next_attempt_at: at, updated_at: at });
      await trx('kmc_message_events').insert(
        ids.map((id) => ({ message_id: id, at, status: 'pending', detail: 'lease expired: the worker stopped before it finished', actor })),
      );
      return ids.length;
    });
  }

  /**
   * Moves a claimed message on. Guarded by the claim: a worker whose lease ran
   * out and whose message was claimed again cannot overwrite the newer state.
   */
  async complete(
    id: number,
    workerId: string,
    change: {
      status: Extract<MessageStatus, 'sent' | 'pending' | 'failed'>;
      detail: string;
      at: Date;
      providerId?: string | null;
      reply?: string | null;
      messageIdHeader?: string | null;
      nextAttemptAt?: Date | null;
      reason?: string | null;
    },
  ): Promise<boolean> {
    const at = toDbTime(change.at);
    return this.knex.transaction(async (trx) => {
      const update: Record<string, unknown> = {
        status: change.status,
        status_reason: change.reason ?? null,
        updated_at: at,
        lease_until: null,
        claimed_by: null,
        last_reply: change.reply ?? null,
        next_attempt_at: change.nextAttemptAt ? toDbTime(change.nextAttemptAt) : null,
      };
      if (change.providerId !== undefined) update.provider_id = change.providerId;
      if (change.messageIdHeader !== undefined) update.message_id_header = change.messageIdHeader;
      if (change.status === 'sent') update.first_sent_at = trx.raw('COALESCE(first_sent_at, ?)', [at]);
      const n = await trx('kmc_messages').where({ id, status: 'sending', claimed_by: workerId }).update(update);
      if (!n) return false;
      await trx('kmc_message_events').insert({ message_id: id, at, status: change.status, detail: change.detail, actor: workerId });
      return true;
    });
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
    return this.knex('kmc_messages').where({ borrowernumber }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
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
