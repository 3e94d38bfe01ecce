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

/** One batch of messages made before `before`: returns how many messages and item lines it cleared. */
export async function anonymiseBatch(
  knex: Knex,
  args: { before: string; batchSize: number; detail: string; actor: string; now: () => Date },
): Promise<{ messages: number; items: number }> {
  const optional: string[] = [];
  for (const column of OPTIONAL_DATA_COLUMNS) if (await knex.schema.hasColumn('kmc_messages', column)) optional.push(column);
  return knex.transaction(async (trx) => {
    const rows = await trx<MessageRow>('kmc_messages')
      .whereNull('anonymised_at')
      .where('created_at', '<', args.before)
      .whereIn('status', FINAL_STATUSES)
      .orderBy('id')
      .limit(args.batchSize)
      .forUpdate()
      .skipLocked()
      .select('id', 'status');
    if (!rows.length) return { messages: 0, items: 0 };
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
    return { messages: ids.length, items };
  });
}
