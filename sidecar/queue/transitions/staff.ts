/**
 * What staff do to one message in the queue (failed or missing contact):
 * try it again (placed by the placement rule: the queue, or held for the
 * branch's quiet hours or the address's verification), mark it handled, or
 * leave a line in its history (resent as another message).
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { Placement } from '../placement';
import { writeEvents } from './shared';

/**
 * Retry by staff: the message, still in `from`, goes where the placement
 * rule put it, to `to` (its address as Koha has it now), with a fresh
 * budget of attempts. Returns whether it moved.
 */
export interface RetryArgs {
  id: number;
  from: MessageStatus;
  to: string | null;
  placement: Placement & { status: 'pending' | 'held' };
  actor: string;
  at: Date;
}

export async function retryByStaff(knex: Knex, args: RetryArgs): Promise<boolean> {
  const at = toDbTime(args.at);
  const { status, reason } = args.placement;
  return knex.transaction(async (trx) => {
    const n = await trx('kmc_messages')
      .where({ id: args.id, status: args.from })
      .update({
        status,
        status_reason: reason ? reason.slice(0, 255) : null,
        to_address: args.to,
        attempts: 0,
        next_attempt_at: status === 'pending' ? at : null,
        updated_at: at,
      });
    if (!n) return false;
    const detail = status === 'pending' ? 'tried again by staff' : `tried again by staff; ${reason ?? 'held'}`;
    await writeEvents(trx, [{ messageId: args.id, at: args.at, status, detail, actor: args.actor }]);
    return true;
  });
}

/** A line in a message's history that does not change its status (e.g. "sent again by print as message 12"). */
export interface NoteArgs {
  id: number;
  status: MessageStatus;
  detail: string;
  actor: string;
  at: Date;
  /** Takes the message out of the staff queue too. */
  handled?: { by: number; how: 'handled' | 'resent'; resentAs?: number };
}

export async function noteEvent(knex: Knex, args: NoteArgs): Promise<void> {
  const at = toDbTime(args.at);
  await knex.transaction(async (trx) => {
    if (args.handled)
      await trx('kmc_queue_handled')
        .insert({
          message_id: args.id,
          handled_by: args.handled.by,
          handled_at: at,
          how: args.handled.how,
          resent_as: args.handled.resentAs ?? null,
        })
        .onConflict('message_id')
        .ignore();
    await writeEvents(trx, [{ messageId: args.id, at: args.at, status: args.status, detail: args.detail, actor: args.actor }]);
    if (args.handled?.how === 'handled') await trx('kmc_messages').where({ id: args.id }).update({ updated_at: at });
  });
}
