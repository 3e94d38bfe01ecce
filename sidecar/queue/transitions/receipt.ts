/**
 * Receipt: an SMS delivery receipt moves a `sent` message to `delivered` or
 * `failed`; an intermediate report only adds to its history. A receipt for a
 * message not yet stored as sent is kept and applied when it is.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow, SmsReceipt, SmsReceiptRow } from '../types';
import { withLockRetry, writeEvents } from './shared';

export function toReceipt(r: SmsReceiptRow): SmsReceipt {
  return { providerId: r.provider_id, state: r.state, stat: r.stat, err: r.err ?? undefined, account: r.provider_account };
}

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
  const status: MessageStatus = receipt.state === 'delivered' ? 'delivered' : 'failed';
  const reason = status === 'failed' ? `SMS_NOT_DELIVERED: the SMSC reports ${words}`.slice(0, 255) : null;
  await trx('kmc_messages')
    .where({ id: message.id, status: 'sent' })
    .update({ status, status_reason: reason, updated_at: toDbTime(at) });
  await writeEvents(trx, [{ messageId: message.id, at, status, detail: `delivery receipt: ${words}`, actor }]);
  return status;
}

/** Receipts that came before their message was stored as sent are applied now, oldest first. */
export async function applyWaitingReceipts(
  trx: Knex.Transaction,
  sent: Array<{ id: number; providerId: string; account: string }>,
  at: Date,
): Promise<void> {
  const waiting = await trx<SmsReceiptRow>('kmc_sms_receipts')
    .whereIn(
      'provider_id',
      sent.map((s) => s.providerId),
    )
    .whereNull('applied_at')
    .orderBy('id')
    .forUpdate()
    .select();
  if (!waiting.length) return;
  const status = new Map<number, MessageStatus>();
  for (const r of waiting) {
    const message = sent.find((s) => s.providerId === r.provider_id && s.account === r.provider_account);
    if (!message) continue;
    const current = status.get(message.id) ?? 'sent';
    status.set(message.id, await applyReceipt(trx, { id: message.id, status: current }, toReceipt(r), at));
    await trx('kmc_sms_receipts')
      .where({ id: r.id })
      .update({ applied_at: toDbTime(at), message_id: message.id });
  }
}

/**
 * A delivery receipt from the SMSC. Safe to call again with the same
 * receipt (an SMSC may offer it twice).
 */
export async function recordReceipt(knex: Knex, receipt: SmsReceipt, at: Date): Promise<'applied' | 'kept' | 'duplicate'> {
  const account = receipt.account ?? '';
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      // A locking read: it waits for (or holds off) a worker storing `sent` with this id right now.
      const rows = await trx<MessageRow>('kmc_messages')
        .where({ provider_id: receipt.providerId, channel: 'sms' })
        .forUpdate()
        .select('id', 'status', 'provider_account');
      const match = rows.find((r) => (r.provider_account ?? '') === account) ?? rows.find((r) => r.provider_account === null);
      if (!match) {
        await trx('kmc_sms_receipts').insert({
          provider_id: receipt.providerId,
          provider_account: account,
          state: receipt.state,
          stat: receipt.stat.slice(0, 32),
          err: receipt.err?.slice(0, 16) ?? null,
          received_at: toDbTime(at),
        });
        return 'kept';
      }
      if (match.status !== 'sent') return 'duplicate';
      await applyReceipt(trx, { id: match.id, status: match.status }, receipt, at);
      return 'applied';
    }),
  );
}
