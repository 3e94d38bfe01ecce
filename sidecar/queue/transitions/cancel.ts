/**
 * Cancel: a verification mail whose link no longer counts is cancelled if it
 * has not gone yet (it would carry a worthless link).
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageRow } from '../types';
import { numbers, writeEvents } from './shared';

export async function cancelUnsentVerificationMails(knex: Knex, ids: number[], detail: string, actor: string, at: Date): Promise<number[]> {
  if (!ids.length) return [];
  const now = toDbTime(at);
  return knex.transaction(async (trx) => {
    const mine = numbers(
      await trx<MessageRow>('kmc_messages')
        .whereIn('id', ids)
        .where({ status: 'pending', message_type: 'email_verification' })
        .forUpdate()
        .pluck('id'),
    );
    if (mine.length) {
      await trx('kmc_messages')
        .whereIn('id', mine)
        .update({ status: 'cancelled', status_reason: detail.slice(0, 255), next_attempt_at: null, updated_at: now });
      await writeEvents(
        trx,
        mine.map((id) => ({ messageId: id, at, status: 'cancelled', detail, actor })),
      );
    }
    return mine;
  });
}
