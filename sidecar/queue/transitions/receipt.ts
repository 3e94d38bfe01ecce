/**
 * Receipt: an SMS delivery receipt moves a `sent` message to `delivered`, or
 * (the phone never got it: UNDELIV, EXPIRED, REJECTD ...) to `bounced` by the
 * bounce transition, as a returned e-mail does; an intermediate report only
 * adds to its history. A receipt for a
 * message not yet stored as sent is kept and applied when it is.
 *
 * An SMSC's message ids are unique only for a while: after a restart its ids
 * may start again at the same values. So a receipt moves only a message still
 * waiting for one (`sent`), on the account it came in on, sent within the
 * receipt validity, the most recent of those; a message already `delivered`
 * or `failed` is never moved again. A receipt that matches nothing is kept in
 * `kmc_sms_receipts` for inspection.
 */
import type { Knex } from 'knex';
import { fromDbTime, toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow, SmsReceipt, SmsReceiptRow } from '../types';
import { bounceLocked } from './bounce';
import { withLockRetry, writeEvents, type Db } from './shared';

export function toReceipt(r: SmsReceiptRow): SmsReceipt {
  return { providerId: r.provider_id, state: r.state, stat: r.stat, err: r.err ?? undefined, account: r.provider_account };
}

/**
 * How long after sending a receipt can still come: SMSCs give up on a
 * message after their validity period (commonly one to seven days) and
 * report it then. Older sent messages are not matched.
 */
export const RECEIPT_VALIDITY_DAYS = 7;
const RECEIPT_VALIDITY_MS = RECEIPT_VALIDITY_DAYS * 24 * 3600_000;

/** Moves a sent message by its receipt and writes the event; returns the status it ends in. */
export async function applyReceipt(
  trx: Knex.Transaction,
  message: { id: number; status: MessageStatus },
  receipt: SmsReceipt,
  at: Date,
): Promise<MessageStatus> {
  const words = `${receipt.stat}${receipt.err && receipt.err !== '000' ? ` (err ${receipt.err})` : ''}`;
  const actor = `smsc:${receipt.account ?? ''}`;
  if (message.status !== 'sent') return message.status;
  if (receipt.state === 'other') {
    // An intermediate report (ENROUTE, ACCEPTD ...): history only, the message stays sent.
    await writeEvents(trx, [{ messageId: message.id, at, status: 'sent', detail: `delivery report: ${words}`, actor }]);
    return 'sent';
  }
  const detail = `delivery receipt: ${words}`;
  if (receipt.state !== 'delivered') {
    const reason = `SMS_NOT_DELIVERED: the SMSC reports ${words}`;
    return (await bounceLocked(trx, message, { reason, detail, at, actor })) ? 'bounced' : message.status;
  }
  await trx('kmc_messages')
    .where({ id: message.id, status: 'sent' })
    .update({ status: 'delivered', status_reason: null, updated_at: toDbTime(at) });
  await writeEvents(trx, [{ messageId: message.id, at, status: 'delivered', detail, actor }]);
  return 'delivered';
}

/** An SMS just stored as sent, with the time of its claim: receipts received before it are not its. */
export interface SentSms {
  id: number;
  providerId: string;
  account: string;
  claimedAt: Date;
}

/** The receipts kept unapplied that may be those of SMS just stored as sent, locked, oldest first. */
export function waitingReceipts(trx: Db, sent: SentSms[]): Knex.QueryBuilder<SmsReceiptRow, SmsReceiptRow[]> {
  const earliest = new Date(Math.min(...sent.map((s) => s.claimedAt.getTime())));
  return trx<SmsReceiptRow>('kmc_sms_receipts')
    .whereIn(
      'provider_id',
      sent.map((s) => s.providerId),
    )
    .whereNull('applied_at')
    .where('received_at', '>=', toDbTime(earliest))
    .orderBy('id')
    .forUpdate()
    .select();
}

/**
 * Receipts that came before their message was stored as sent are applied
 * now, oldest first: only those received after the message was claimed (an
 * older receipt with the same id belongs to an earlier message).
 */
export async function applyWaitingReceipts(trx: Knex.Transaction, sent: SentSms[], at: Date): Promise<void> {
  const waiting = await waitingReceipts(trx, sent);
  const status = new Map<number, MessageStatus>();
  for (const r of waiting) {
    const receivedAt = fromDbTime(r.received_at) ?? at;
    const message = sent.find(
      (s) => s.providerId === r.provider_id && s.account === r.provider_account && receivedAt.getTime() >= s.claimedAt.getTime(),
    );
    if (!message) continue;
    const current = status.get(message.id) ?? 'sent';
    status.set(message.id, await applyReceipt(trx, { id: message.id, status: current }, toReceipt(r), at));
    await trx('kmc_sms_receipts')
      .where({ id: r.id })
      .update({ applied_at: toDbTime(at), message_id: message.id });
  }
}

/** What a receipt did: applied to a message (and the status it ends in), or kept for inspection. */
export interface ReceiptOutcome {
  result: 'applied' | 'kept';
  messageId: number | null;
  status: MessageStatus | null;
}

/**
 * A delivery receipt from the SMSC. Safe to call again with the same
 * receipt (an SMSC may offer it twice): the message it moved is no longer
 * waiting, so the second one is kept, not applied.
 */
export async function recordReceipt(knex: Knex, receipt: SmsReceipt, at: Date): Promise<ReceiptOutcome> {
  const account = receipt.account ?? '';
  const since = toDbTime(new Date(at.getTime() - RECEIPT_VALIDITY_MS));
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      // A locking read on the id: it waits for (or holds off) a worker storing `sent` with this id right now.
      const match = await trx<MessageRow>('kmc_messages')
        .where({ provider_id: receipt.providerId, channel: 'sms', status: 'sent' })
        .where((q) => {
          // Messages sent before accounts were recorded have none.
          void q.where('provider_account', account).orWhereNull('provider_account');
        })
        .where('first_sent_at', '>=', since)
        .orderBy([
          { column: 'first_sent_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .forUpdate()
        .first('id', 'status');
      if (!match) {
        await trx('kmc_sms_receipts').insert({
          provider_id: receipt.providerId,
          provider_account: account,
          state: receipt.state,
          stat: receipt.stat.slice(0, 32),
          err: receipt.err?.slice(0, 16) ?? null,
          received_at: toDbTime(at),
        });
        return { result: 'kept', messageId: null, status: null };
      }
      const status = await applyReceipt(trx, { id: match.id, status: match.status }, receipt, at);
      return { result: 'applied', messageId: match.id, status };
    }),
  );
}
