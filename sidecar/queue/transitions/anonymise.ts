/**
 * Anonymise: a message whose story has ended loses its contact data and
 * text; its status stays, and its history gets a line saying so (the
 * details of the earlier lines are cleared, since server replies can name
 * an address).
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageStatus } from '../../kernel';
import type { MessageRow } from '../types';
import { writeEvents } from './shared';

/** Only messages whose story has ended are anonymised; one still on its way is left alone. */
export const FINAL_STATUSES: MessageStatus[] = ['sent', 'printed', 'delivered', 'bounced', 'failed', 'missing_contact', 'cancelled'];

/** Columns later migrations may add that hold a message's data; cleared when present. */
const OPTIONAL_DATA_COLUMNS = ['render_data'] as const;

/** Where a night's anonymising has got to: the last message it looked at, in creation order. */
export interface AnonymiseMark {
  createdAt: string;
  id: number;
}

/**
 * One batch of messages made before `before`, after `from` when given: returns how many messages and item lines
 * it cleared, and the mark the next batch starts after (null: nothing was left).
 */
export async function anonymiseBatch(
  knex: Knex,
  args: { before: string; batchSize: number; detail: string; actor: string; now: () => Date; from?: AnonymiseMark | null },
): Promise<{ messages: number; items: number; next: AnonymiseMark | null }> {
  const optional: string[] = [];
  for (const column of OPTIONAL_DATA_COLUMNS) if (await knex.schema.hasColumn('kmc_messages', column)) optional.push(column);
  return knex.transaction(async (trx) => {
    // In the order of the anonymisation index (not yet anonymised, by creation time, then id), from the last
    // batch's mark: a message still on its way, or locked, is passed once, not read again by every batch.
    const q = trx<MessageRow>('kmc_messages').whereNull('anonymised_at').where('created_at', '<', args.before);
    const from = args.from;
    if (from)
      q.where('created_at', '>=', from.createdAt).where(
        (w) =>
          void w
            .where('created_at', '>', from.createdAt)
            .orWhere((same) => void same.where('created_at', from.createdAt).where('id', '>', from.id)),
      );
    const rows = await q
      .whereIn('status', FINAL_STATUSES)
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ])
      .limit(args.batchSize)
      .forUpdate()
      .skipLocked()
      .select<Array<Pick<MessageRow, 'id' | 'status' | 'created_at'>>>('id', 'status', 'created_at');
    if (!rows.length) return { messages: 0, items: 0, next: null };
    const last = rows[rows.length - 1];
    const ids = rows.map((r) => r.id);
    const when = args.now();
    const at = toDbTime(when);
    const cleared: Record<string, null> = {
      to_address: null,
      reply_to: null,
      subject: null,
      body_text: null,
      body_html: null,
      last_reply: null,
      status_reason: null,
    };
    for (const c of optional) cleared[c] = null;
    await trx('kmc_messages')
      .whereIn('id', ids)
      .update({ ...cleared, anonymised_at: at, updated_at: at });
    const items = await trx('kmc_message_items').whereIn('message_id', ids).update({ title: null, author: null, barcode: null });
    await trx('kmc_message_events').whereIn('message_id', ids).update({ detail: null });
    await writeEvents(
      trx,
      rows.map((r) => ({ messageId: r.id, at: when, status: r.status, detail: args.detail, actor: args.actor })),
    );
    return { messages: ids.length, items, next: { createdAt: last.created_at, id: last.id } };
  });
}
