/**
 * Create: new messages go in with their items and their first event, in the
 * place the placement rule gave them (pending, held, proposed or
 * missing_contact). A message whose key exists is a duplicate and is
 * skipped; a loan already covered at the same level makes its message a
 * duplicate too, whichever instance got there first.
 */
import type { Knex } from 'knex';
import { isDuplicateKey, toDbTime } from '../../db';
import {
  COLUMN_SIZES,
  EVENT_COLUMNS,
  ITEM_COLUMNS,
  MESSAGE_COLUMNS,
  cutOrNull,
  cutToFit,
  idsAreConsecutive,
  inWriteTransaction,
} from '../insert';
import type { InsertResult, NewMessage, NewMessageItem } from '../types';
import { chunk, withLockRetry } from './shared';

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
    cutOrNull(m.statusReason, COLUMN_SIZES.status_reason),
    // Values from Koha may be longer than their column (LONGTEXT there): cut, never refused.
    cutOrNull(m.to, COLUMN_SIZES.address),
    cutOrNull(m.from, COLUMN_SIZES.address),
    cutOrNull(m.replyTo, COLUMN_SIZES.address),
    cutOrNull(m.lang, COLUMN_SIZES.lang),
    cutToFit(m.subject, COLUMN_SIZES.subject),
    cutToFit(m.text, COLUMN_SIZES.body),
    cutOrNull(m.html, COLUMN_SIZES.body),
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
    cutOrNull(it.barcode, COLUMN_SIZES.barcode),
    cutOrNull(it.title, COLUMN_SIZES.title),
    cutOrNull(it.author, COLUMN_SIZES.author),
    it.dateDue ?? null,
    it.fee ?? 0,
  ];
}

/**
 * Tries for one batch of new messages: a deadlock victim is written again
 * after a short jittered wait. A lock wait timeout is not retried here: it
 * already waited innodb_lock_wait_timeout and says something holds the rows.
 */
const INSERT_TRIES = 8;
const DEADLOCK = new Set(['ER_LOCK_DEADLOCK']);

export class MessageCreator {
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
        const idByKey = new Map(rows.map((r) => [r.idempotency_key, r.id]));
        ids = fresh.map((m) => idByKey.get(m.idempotencyKey) ?? 0);
      }
      const items: Array<Array<string | number | null>> = [];
      const events: Array<Array<string | number | null>> = [];
      fresh.forEach((m, i) => {
        for (const it of m.items) items.push(itemValues(ids[i], it));
        events.push([
          ids[i],
          now,
          m.status,
          cutToFit(m.statusReason ?? 'created', COLUMN_SIZES.detail),
          cutToFit(actor, COLUMN_SIZES.actor),
        ]);
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
}
