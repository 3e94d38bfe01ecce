/**
 * Complete: a claimed message moves on after one attempt, to `sent` (a
 * letter: `to_print`, until staff confirm they printed it), back
 * to `pending` for a later try, or to `failed`. Guarded by the claim: a
 * worker whose lease ran out and whose message was claimed again cannot
 * overwrite the newer state.
 */
import type { Knex } from 'knex';
import { fromDbTime, toDbTime } from '../../db';
import type { CompletionChange, MessageRow } from '../types';
import { applyWaitingReceipts } from './receipt';
import { numbers, withLockRetry, writeEvents } from './shared';

/**
 * Records the outcomes of many claimed messages in one transaction (one
 * commit for the lot), each guarded by the claim. A receipt that arrived
 * before `sent` was stored is applied here. Returns, per change, whether it
 * was recorded.
 */
export async function completeMany(knex: Knex, workerId: string, changes: Array<CompletionChange & { id: number }>): Promise<boolean[]> {
  if (!changes.length) return [];
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      // Lock the rows still ours; a message whose lease ran out and was claimed again is left alone.
      // Their updated_at is still the time of the claim, before which no receipt can be theirs.
      const claimed = await trx<MessageRow>('kmc_messages')
        .whereIn(
          'id',
          changes.map((c) => c.id),
        )
        .where({ status: 'sending', claimed_by: workerId })
        .forUpdate()
        .select<Array<Pick<MessageRow, 'id' | 'updated_at'>>>('id', 'updated_at');
      const claimedIds = numbers(claimed.map((r) => r.id));
      const claimedAt = new Map(claimed.map((r, i) => [claimedIds[i], fromDbTime(r.updated_at)]));
      const owned = new Set(claimedIds);
      const mine = changes.filter((c) => owned.has(c.id));
      if (mine.length) {
        // One statement for the whole group: each row takes its own values from a derived table.
        const cols =
          '? AS id, ? AS status, ? AS status_reason, ? AS updated_at, ? AS last_reply, ? AS next_attempt_at, ? AS has_provider, ? AS provider_id, ? AS has_account, ? AS provider_account';
        const rows = mine.map((_, i) => (i === 0 ? `SELECT ${cols}` : 'SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?')).join(' UNION ALL ');
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
        ]);
        await trx.raw(
          `UPDATE kmc_messages m JOIN (${rows}) v ON m.id = v.id
           SET m.status = v.status, m.status_reason = v.status_reason, m.updated_at = v.updated_at,
               m.lease_until = NULL, m.claimed_by = NULL, m.last_reply = v.last_reply, m.next_attempt_at = v.next_attempt_at,
               m.provider_id = IF(v.has_provider = 1, v.provider_id, m.provider_id),
               m.provider_account = IF(v.has_account = 1, v.provider_account, m.provider_account),
               m.first_sent_at = IF(v.status IN ('sent', 'to_print'), COALESCE(m.first_sent_at, v.updated_at), m.first_sent_at)
           WHERE m.status = 'sending' AND m.claimed_by = ?`,
          [...bindings, workerId],
        );
        await writeEvents(
          trx,
          mine.map((c) => ({ messageId: c.id, at: c.at, status: c.status, detail: c.detail, actor: workerId })),
        );
        const sentWithId = mine
          .filter((c) => c.status === 'sent' && c.providerId && (c.channel === undefined || c.channel === 'sms'))
          .map((c) => ({
            id: c.id,
            providerId: c.providerId ?? '',
            account: c.providerAccount ?? '',
            claimedAt: claimedAt.get(c.id) ?? c.at,
          }));
        if (sentWithId.length) await applyWaitingReceipts(trx, sentWithId, mine[0].at);
      }
      return changes.map((c) => owned.has(c.id));
    }),
  );
}
