/**
 * No longer current: a notice whose every item changed in Koha since it was
 * made (returned, renewed, a hold picked up, cancelled or expired) is
 * cancelled with the reason, before it is handed to a channel (a worker's
 * claimed message) or approved by staff (a proposed one). Only messages
 * still in the status they were found in, and still the worker's claim,
 * move: what someone else moved meanwhile stays as it is.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow } from '../types';
import { numbers, withLockRetry, writeEvents } from './shared';

export interface StaleCancel {
  /** Each message with the status it was found in and the reason it goes no further. */
  messages: Array<{ id: number; from: MessageStatus; reason: string }>;
  /** For `sending`: only while the claim is still this worker's. */
  claimedBy?: string;
  actor: string;
  at: Date;
}

/** Cancels the messages still in the status they were found in; returns the ids that moved. */
export async function cancelStale(knex: Knex, c: StaleCancel): Promise<number[]> {
  if (!c.messages.length) return [];
  const at = toDbTime(c.at);
  const wanted = new Map(c.messages.map((m) => [m.id, m]));
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      const found = await trx<MessageRow>('kmc_messages')
        .whereIn('id', [...wanted.keys()])
        .forUpdate()
        .select<Array<Pick<MessageRow, 'id' | 'status' | 'claimed_by'>>>('id', 'status', 'claimed_by');
      const mine = numbers(
        found
          .filter((r) => {
            const w = wanted.get(r.id);
            return w && r.status === w.from && (w.from !== 'sending' || !c.claimedBy || r.claimed_by === c.claimedBy);
          })
          .map((r) => r.id),
      );
      for (const id of mine) {
        const from = wanted.get(id)?.from;
        await trx('kmc_messages')
          .where({ id })
          .update({
            status: 'cancelled',
            status_reason: (wanted.get(id)?.reason ?? '').slice(0, 255),
            next_attempt_at: null,
            claimed_by: null,
            lease_until: null,
            updated_at: at,
            // A claimed message was never tried: its claim's attempt is given back.
            ...(from === 'sending' ? { attempts: trx.raw('GREATEST(attempts - 1, 0)') } : {}),
          });
      }
      await writeEvents(
        trx,
        mine.map((id) => ({ messageId: id, at: c.at, status: 'cancelled', detail: wanted.get(id)?.reason ?? null, actor: c.actor })),
      );
      return mine;
    }),
  );
}
