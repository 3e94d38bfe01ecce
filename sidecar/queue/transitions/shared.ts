/**
 * What every state move shares: the event row each move writes, lock
 * retries, and batching. Only the modules of this folder write
 * `kmc_messages.status` or `kmc_message_events`.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';

export type Db = Knex | Knex.Transaction;

/** One line of a message's history: the status it is in after the move, why, and who moved it. */
export interface EventInput {
  messageId: number;
  status: MessageStatus;
  detail: string | null;
  actor: string | null;
  at: Date;
}

export async function writeEvents(db: Db, events: EventInput[]): Promise<void> {
  for (const part of chunk(events, 1000)) await insertEvents(db, part);
}

/** The INSERT of up to 1000 event rows, as a query builder (it runs when awaited, or goes into a longer statement). */
export function insertEvents(db: Db, events: EventInput[]): Knex.QueryBuilder {
  return db('kmc_message_events').insert(
    events.map((e) => ({
      message_id: e.messageId,
      at: toDbTime(e.at),
      status: e.status,
      detail: e.detail === null ? null : e.detail.slice(0, 1000),
      actor: e.actor === null ? null : e.actor.slice(0, 64),
    })),
  );
}

export function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const LOCK_ERRORS: ReadonlySet<string> = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
}

/** InnoDB may pick one of two crossing transactions as a deadlock victim; trying again is the cure. */
export async function withLockRetry<T>(fn: () => Promise<T>, tries = 4, codes: ReadonlySet<string> = LOCK_ERRORS): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= tries || !codes.has(errorCode(err))) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}

/** Runs in the caller's transaction when given one, else in a new one. */
export function inTransaction<T>(db: Db, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Knex.Transaction) : db.transaction(work);
}

/** Ids as numbers: the driver may give BIGINT columns as strings. */
export function numbers(ids: Array<number | string>): number[] {
  return ids.map(Number);
}
