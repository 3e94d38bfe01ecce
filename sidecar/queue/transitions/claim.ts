/**
 * Claim and give back: a worker claims due messages (`pending` to
 * `sending`, with a lease); a worker that stops gives back what it never
 * handed to a channel; a lease that ran out (the worker died) puts its
 * messages back in the queue.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import { messageIdFor, type ChannelName } from '../../kernel';
import type { MessageRow } from '../types';
import { numbers, withLockRetry, writeEvents } from './shared';

/**
 * Claims due messages for one worker: locked rows of other workers are
 * skipped, claimed rows get a lease. Read committed: only the rows taken are
 * locked, no ranges, so a claim does not block workers recording outcomes
 * at the same time.
 */
export async function claimDue(
  knex: Knex,
  opts: { channels: ChannelName[]; limit: number; workerId: string; leaseMs: number; now: Date },
): Promise<MessageRow[]> {
  if (!opts.channels.length) return [];
  const now = toDbTime(opts.now);
  const leaseUntil = toDbTime(new Date(opts.now.getTime() + opts.leaseMs));
  return withLockRetry(() =>
    knex.transaction(
      async (trx) => {
        // The claim index gives rows in due order, so the scan stops (and locks) after the batch.
        const due = await trx
          .from<MessageRow>(trx.raw('?? FORCE INDEX (kmc_messages_claim)', ['kmc_messages']))
          .where('status', 'pending')
          .whereIn('channel', opts.channels)
          .where((q) => {
            void q.whereNull('next_attempt_at').orWhere('next_attempt_at', '<=', now);
          })
          .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
          .limit(opts.limit)
          .forUpdate()
          .skipLocked()
          .select<Array<Pick<MessageRow, 'id' | 'channel' | 'from_address' | 'message_id_header'>>>(
            'id',
            'channel',
            'from_address',
            'message_id_header',
          );
        if (!due.length) return [];
        const ids = numbers(due.map((r) => r.id));
        // An e-mail's Message-ID is fixed by the claim before its first attempt, in the same statement:
        // every later attempt, and a send again after a crash, carries the same one.
        const headers = due.flatMap((r, i) =>
          r.channel === 'email' && r.message_id_header === null ? [{ id: ids[i], header: messageIdFor(ids[i], r.from_address ?? '') }] : [],
        );
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where('status', 'pending')
          .update({
            status: 'sending',
            lease_until: leaseUntil,
            claimed_by: opts.workerId,
            updated_at: now,
            attempts: trx.raw('attempts + 1'),
            ...(headers.length
              ? {
                  message_id_header: trx.raw(
                    `CASE id ${headers.map(() => 'WHEN ? THEN ?').join(' ')} ELSE message_id_header END`,
                    headers.flatMap((h) => [h.id, h.header]),
                  ),
                }
              : {}),
          });
        await writeEvents(
          trx,
          ids.map((id) => ({ messageId: id, at: opts.now, status: 'sending', detail: null, actor: opts.workerId })),
        );
        return trx<MessageRow>('kmc_messages').whereIn('id', ids).orderBy('id').select();
      },
      { isolationLevel: 'read committed' },
    ),
  );
}

/** Lease expiry: messages left in `sending` by a worker that died go back to the queue. */
export async function releaseExpiredLeases(knex: Knex, now: Date, actor: string): Promise<number> {
  const at = toDbTime(now);
  return withLockRetry(() =>
    knex.transaction(
      async (trx) => {
        const ids = numbers(
          await trx<MessageRow>('kmc_messages')
            .where('status', 'sending')
            .where('lease_until', '<', at)
            .forUpdate()
            .skipLocked()
            .pluck('id'),
        );
        if (!ids.length) return 0;
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where('status', 'sending')
          .update({ status: 'pending', claimed_by: null, lease_until: null, next_attempt_at: at, updated_at: at });
        await writeEvents(
          trx,
          ids.map((id) => ({
            messageId: id,
            at: now,
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
 * the queue at once (a stopping worker), without waiting for the lease; or,
 * with `nextAttemptAt`, for later (a sending limit holds them back). The
 * claim's attempt is given back, since nothing was tried.
 */
export async function releaseClaimed(
  knex: Knex,
  ids: number[],
  workerId: string,
  at: Date,
  reason: string,
  nextAttemptAt: Date = at,
): Promise<number> {
  if (!ids.length) return 0;
  const now = toDbTime(at);
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      const mine = numbers(
        await trx<MessageRow>('kmc_messages').whereIn('id', ids).where({ status: 'sending', claimed_by: workerId }).forUpdate().pluck('id'),
      );
      if (!mine.length) return 0;
      await trx('kmc_messages')
        .whereIn('id', mine)
        .update({
          status: 'pending',
          claimed_by: null,
          lease_until: null,
          next_attempt_at: toDbTime(nextAttemptAt),
          updated_at: now,
          attempts: trx.raw('GREATEST(attempts - 1, 0)'),
        });
      await writeEvents(
        trx,
        mine.map((id) => ({ messageId: id, at, status: 'pending', detail: reason, actor: workerId })),
      );
      return mine.length;
    }),
  );
}
