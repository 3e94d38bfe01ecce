/**
 * Bounce: a report that came back to a notice's return path. A hard or soft
 * bounce moves an e-mail that was `sent` (or `delivered`, when a receipt came
 * first) to `bounced`; a complaint only adds a line to its history, since the
 * notice did arrive. The history keeps the report's code and words. An SMS
 * delivery receipt saying the phone never got the text moves its SMS here too.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow } from '../types';
import { withLockRetry, writeEvents } from './shared';

/** What the report said, as the classifier read it. */
export interface BounceReport {
  kind: 'hard' | 'soft' | 'complaint';
  status: string | null;
  reason: string | null;
  diagnostic: string | null;
}

/** The statuses a bounce can move a message out of: it was handed on and may have arrived. */
export const BOUNCEABLE_STATUSES: readonly MessageStatus[] = ['sent', 'delivered'];

function words(report: BounceReport): string {
  const kind = report.kind === 'hard' ? 'hard bounce' : report.kind === 'soft' ? 'soft bounce' : 'complaint';
  const parts = [kind, report.status, report.reason ? `(${report.reason})` : null].filter(Boolean).join(' ');
  return report.diagnostic ? `${parts}: ${report.diagnostic}` : parts;
}

/**
 * Moves a message that was handed on to `bounced`, inside the caller's transaction (the row already locked):
 * the one place both e-mail bounces and undelivered SMS receipts change a status to `bounced`.
 */
export async function bounceLocked(
  trx: Knex.Transaction,
  message: { id: number; status: MessageStatus },
  change: { reason: string; detail: string; at: Date; actor: string },
): Promise<boolean> {
  if (!BOUNCEABLE_STATUSES.includes(message.status)) return false;
  const moved = await trx('kmc_messages')
    .where({ id: message.id, status: message.status })
    .update({ status: 'bounced', status_reason: change.reason.slice(0, 255), updated_at: toDbTime(change.at) });
  if (!moved) return false;
  await writeEvents(trx, [{ messageId: message.id, at: change.at, status: 'bounced', detail: change.detail, actor: change.actor }]);
  return true;
}

/**
 * Records a bounce on an e-mail message. Returns the status it is in after: `bounced` when the report moved it,
 * otherwise the status it had (a second report of the same message only adds to its history).
 */
export async function recordBounce(
  knex: Knex,
  messageId: number,
  report: BounceReport,
  at: Date,
  actor: string,
): Promise<{ before: MessageStatus; after: MessageStatus } | null> {
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      const row = await trx<MessageRow>('kmc_messages').where({ id: messageId, channel: 'email' }).forUpdate().first('id', 'status');
      if (!row) return null;
      const detail = words(report);
      if (report.kind !== 'complaint' && (await bounceLocked(trx, row, { reason: `EMAIL_BOUNCED: ${detail}`, detail, at, actor }))) {
        return { before: row.status, after: 'bounced' as MessageStatus };
      }
      await writeEvents(trx, [{ messageId, at, status: row.status, detail, actor }]);
      return { before: row.status, after: row.status };
    }),
  );
}
