/**
 * The archive keeps every message, but not for ever with its contents:
 * messages older than the retention period lose their contact data and
 * their text (address, subject, body, server replies, the titles they
 * covered), while the rows themselves stay, so counts by day, type, channel
 * and status remain true. Each anonymised message gets an event saying so;
 * its "last change" becomes the moment of anonymisation.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { Logger } from '../logging';
import type { Clock } from '../notices';

/** Only messages whose story has ended are anonymised; one still on its way is left alone. */
export const FINAL_STATUSES = ['sent', 'delivered', 'failed', 'missing_contact', 'cancelled'] as const;

export interface AnonymiseDeps {
  knex: Knex;
  clock: Clock;
  logger: Logger;
}

export interface AnonymiseResult {
  /** Messages created before this instant (UTC) were due. */
  before: string;
  messages: number;
  items: number;
}

/** Columns later migrations may add that hold a message's data; cleared when present. */
const OPTIONAL_DATA_COLUMNS = ['render_data'] as const;

export async function anonymiseOldMessages(
  deps: AnonymiseDeps,
  opts: { retentionDays: number; batchSize?: number; actor?: string },
): Promise<AnonymiseResult> {
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) {
    throw new RangeError(`the retention period must be a whole number of days, at least 1 (got ${opts.retentionDays})`);
  }
  const { knex, clock, logger } = deps;
  const now = clock.now();
  const before = toDbTime(new Date(now.getTime() - opts.retentionDays * 86_400_000));
  const batchSize = opts.batchSize ?? 1000;
  const actor = opts.actor ?? 'anonymiser';
  const optional: string[] = [];
  for (const column of OPTIONAL_DATA_COLUMNS) if (await knex.schema.hasColumn('kmc_messages', column)) optional.push(column);

  const result: AnonymiseResult = { before, messages: 0, items: 0 };
  for (;;) {
    const done = await knex.transaction(async (trx) => {
      const rows: Array<{ id: number; status: string }> = await trx('kmc_messages')
        .whereNull('anonymised_at')
        .where('created_at', '<', before)
        .whereIn('status', FINAL_STATUSES as unknown as string[])
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .select('id', 'status');
      if (!rows.length) return 0;
      const ids = rows.map((r) => Number(r.id));
      const at = toDbTime(clock.now());
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
      result.items += await trx('kmc_message_items').whereIn('message_id', ids).update({ title: null, author: null, barcode: null });
      // Server replies and reasons in the history can name an address.
      await trx('kmc_message_events').whereIn('message_id', ids).update({ detail: null });
      await trx('kmc_message_events').insert(
        rows.map((r) => ({ message_id: r.id, at, status: r.status, detail: `anonymised after ${opts.retentionDays} days`, actor })),
      );
      return ids.length;
    });
    result.messages += done;
    if (done < batchSize) break;
  }
  logger.info('archive.anonymised', { messages: result.messages, items: result.items, before, retentionDays: opts.retentionDays });
  return result;
}
