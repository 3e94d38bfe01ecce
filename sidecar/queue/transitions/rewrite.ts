/**
 * A message made again: its channel, address and text change (staff left
 * items out or chose another channel before approval; an e-mail held for a
 * verification that expired goes by the next channel). Its id and history
 * stay; the event says what changed. When `place` is given the message also
 * moves, guarded by the status it was found in.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { ChannelName, MessageStatus } from '../../kernel';
import type { Placement } from '../placement';
import { writeEvents } from './shared';

export interface MessageContent {
  channel: ChannelName;
  to: string | null;
  from: string | null;
  replyTo: string | null;
  lang: string | null;
  subject: string;
  text: string;
  html: string | null;
  /** Left unchanged when absent. */
  fee?: number;
  renderData?: unknown;
}

export interface RewriteArgs {
  id: number;
  /** The status it is in; the rewrite happens only while it still is. */
  status: MessageStatus;
  /** For a `sending` message: only while the claim is still this worker's. */
  claimedBy?: string;
  content: MessageContent | null;
  removedItems?: number[];
  place?: Placement;
  detail: string;
  actor: string;
  at: Date;
}

export async function rewriteMessage(knex: Knex, args: RewriteArgs): Promise<boolean> {
  const at = toDbTime(args.at);
  const c = args.content;
  const row: Record<string, unknown> = { updated_at: at };
  if (c) {
    Object.assign(row, {
      channel: c.channel,
      to_address: c.to,
      from_address: c.from,
      reply_to: c.replyTo,
      lang: c.lang,
      subject: c.subject.slice(0, 255),
      body_text: c.text,
      body_html: c.html,
    });
    if (c.fee !== undefined) row.fee = c.fee;
    if (c.renderData !== undefined) row.render_data = JSON.stringify(c.renderData);
  }
  const place = args.place;
  if (place) {
    row.status = place.status;
    row.status_reason = place.reason ? place.reason.slice(0, 255) : null;
    row.next_attempt_at = place.status === 'pending' ? at : null;
  }
  return knex.transaction(async (trx) => {
    const n = await trx('kmc_messages')
      .where({ id: args.id, status: args.status, ...(args.claimedBy ? { claimed_by: args.claimedBy } : {}) })
      .update(row);
    if (!n) return false;
    if (args.removedItems?.length) await trx('kmc_message_items').whereIn('id', args.removedItems).delete();
    await writeEvents(trx, [
      { messageId: args.id, at: args.at, status: place?.status ?? args.status, detail: args.detail, actor: args.actor },
    ]);
    return true;
  });
}
