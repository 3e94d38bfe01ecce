/**
 * A guarded move of many messages at once: only those still in the status
 * they were found in move, each with an event. Staff approval and
 * cancellation use it; a message someone else moved meanwhile stays as it is.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow } from '../types';
import { chunk, numbers, writeEvents } from './shared';

export interface Move {
  ids: number[];
  from: MessageStatus;
  to: Extract<MessageStatus, 'pending' | 'held' | 'cancelled' | 'failed' | 'missing_contact'>;
  /** The history line. */
  detail: string;
  /** What the message shows as its reason; null clears it. */
  reason: string | null;
  actor: string;
  at: Date;
}

/** Moves messages still in `from` to `to`; returns the ids that moved. */
export async function moveMany(knex: Knex, move: Move): Promise<number[]> {
  const at = toDbTime(move.at);
  const moved: number[] = [];
  for (const part of chunk(move.ids, 500)) {
    moved.push(
      ...(await knex.transaction(async (trx) => {
        const mine = numbers(
          await trx<MessageRow>('kmc_messages').whereIn('id', part).where({ status: move.from }).forUpdate().pluck('id'),
        );
        if (!mine.length) return [];
        await trx('kmc_messages')
          .whereIn('id', mine)
          .where({ status: move.from })
          .update({
            status: move.to,
            updated_at: at,
            status_reason: move.reason ? move.reason.slice(0, 255) : null,
            // Only a message in the queue is due; anything else waits for its release.
            next_attempt_at: move.to === 'pending' ? at : null,
          });
        await writeEvents(
          trx,
          mine.map((id) => ({ messageId: id, at: move.at, status: move.to, detail: move.detail, actor: move.actor })),
        );
        return mine;
      })),
    );
  }
  return moved;
}
