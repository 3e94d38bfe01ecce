/**
 * The message queue: messages that failed or found no usable address, for
 * staff to deal with one by one or many at once: try again, send by another
 * channel, cancel, or mark as handled. A message keeps its true status and
 * its history; one that was dealt with leaves the queue list.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { ChannelName } from '../channels/contract';
import type { HostReader } from '../host';
import type { MessageRow, MessageStore } from '../queue';
import { patronEmail, patronMobile, postalAddress } from '../contact';
import { BranchDirectory, renderAgain, type Clock, type NoticeDeps } from '../notices';
import { KmcError } from '../errors';

export const QUEUE_STATUSES = ['failed', 'missing_contact'] as const;
export type QueueAction = 'retry' | 'resend' | 'cancel' | 'handled';
export const QUEUE_ACTIONS: QueueAction[] = ['retry', 'resend', 'cancel', 'handled'];

export type ActionOutcome = 'done' | 'not_in_queue' | 'no_address' | 'same_channel' | 'cannot_render';

export interface QueueDeps {
  knex: Knex;
  store: MessageStore;
  host: HostReader;
  clock: Clock;
  defaultCountry: string;
  notices?: NoticeDeps;
}

export interface QueueFilter {
  status: string;
  channel: string;
  branch: string;
  type: string;
  page: number;
}

export type QueuedMessage = Pick<
  MessageRow,
  | 'id'
  | 'message_type'
  | 'level'
  | 'borrowernumber'
  | 'branchcode'
  | 'channel'
  | 'status'
  | 'status_reason'
  | 'subject'
  | 'attempts'
  | 'created_at'
  | 'updated_at'
  | 'last_reply'
>;

/** The queue: failed and missing-contact messages nobody has dealt with yet, newest first. */
export async function queueList(knex: Knex, f: QueueFilter, pageSize: number): Promise<{ messages: QueuedMessage[]; total: number }> {
  const q = knex('kmc_messages as m')
    .leftJoin('kmc_queue_handled as h', 'h.message_id', 'm.id')
    .whereNull('h.message_id')
    .whereIn('m.status', f.status ? [f.status] : (QUEUE_STATUSES as unknown as string[]));
  if (f.channel) q.where('m.channel', f.channel);
  if (f.branch) q.where('m.branchcode', f.branch);
  if (f.type) q.where('m.message_type', f.type);
  const counted = (await q.clone().count({ n: '*' }).first()) as { n: number } | undefined;
  const messages = (await q
    .orderBy('m.id', 'desc')
    .limit(pageSize)
    .offset((f.page - 1) * pageSize)
    .select(
      'm.id',
      'm.message_type',
      'm.level',
      'm.borrowernumber',
      'm.branchcode',
      'm.channel',
      'm.status',
      'm.status_reason',
      'm.subject',
      'm.attempts',
      'm.created_at',
      'm.updated_at',
      'm.last_reply',
    )) as QueuedMessage[];
  return { messages, total: Number(counted?.n ?? 0) };
}

export class QueueActions {
  constructor(private readonly deps: QueueDeps) {}

  private now(): string {
    return toDbTime(this.deps.clock.now());
  }

  /** The message, if it is in the queue (failed or missing contact, not yet dealt with). */
  private async queued(
    trx: Knex | Knex.Transaction,
    id: number,
  ): Promise<(MessageRow & { render_data?: string | null; rule_id?: number | null }) | null> {
    const row = await trx('kmc_messages as m')
      .leftJoin('kmc_queue_handled as h', 'h.message_id', 'm.id')
      .where('m.id', id)
      .whereNull('h.message_id')
      .whereIn('m.status', QUEUE_STATUSES as unknown as string[])
      .first('m.*');
    return (row as MessageRow | undefined) ?? null;
  }

  /** The patron's address for a channel as Koha has it now. */
  private async addressFor(borrowernumber: number, channel: ChannelName): Promise<string | null> {
    const patron = await this.deps.host.patron(borrowernumber);
    if (!patron) return null;
    if (channel === 'email') return patronEmail(patron);
    if (channel === 'sms') return patronMobile(patron, this.deps.defaultCountry);
    return postalAddress(patron) || null;
  }

  /**
   * Tries again by the same channel. A failed message goes back to the queue
   * as it is; a missing-contact one only once the patron has an address.
   */
  async retry(id: number, actor: string): Promise<ActionOutcome> {
    const message = await this.queued(this.deps.knex, id);
    if (!message) return 'not_in_queue';
    let to = message.to_address;
    if (message.status === 'missing_contact') {
      to = await this.addressFor(message.borrowernumber, message.channel);
      if (!to) return 'no_address';
    }
    const at = this.now();
    return this.deps.knex.transaction(async (trx) => {
      const n = await trx('kmc_messages')
        .where({ id, status: message.status })
        .update({ status: 'pending', status_reason: null, to_address: to, attempts: 0, next_attempt_at: at, updated_at: at });
      if (!n) return 'not_in_queue' as const;
      await trx('kmc_message_events').insert({ message_id: id, at, status: 'pending', detail: 'tried again by staff', actor });
      return 'done' as const;
    });
  }

  /**
   * Sends the message again by another channel, as a new message made from
   * the same data; the old one keeps its status and leaves the queue.
   */
  async resend(id: number, channel: ChannelName, actor: string, staffNumber: number): Promise<{ outcome: ActionOutcome; newId?: number }> {
    const notices = this.deps.notices;
    if (!notices) throw new KmcError('KMC_NOT_AVAILABLE', 'messages cannot be rendered again here: the notice engine is not wired in');
    const message = await this.queued(this.deps.knex, id);
    if (!message) return { outcome: 'not_in_queue' };
    if (message.channel === channel) return { outcome: 'same_channel' };
    let again;
    try {
      again = await renderAgain(notices, message, channel);
    } catch (err) {
      if (err instanceof KmcError && err.code === 'KMC_NO_RENDER_DATA') return { outcome: 'cannot_render' };
      throw err;
    }
    if (!again.to) return { outcome: 'no_address' };
    const directory = await BranchDirectory.load(notices);
    const items = await this.deps.store.items([id]);
    const now = this.deps.clock.now();
    const made = await this.deps.store.insertMessages(
      [
        {
          idempotencyKey: `resend:${id}:${channel}`,
          messageType: message.message_type,
          level: message.level,
          borrowernumber: message.borrowernumber,
          branchcode: message.branchcode,
          channel,
          status: 'pending',
          statusReason: `sent again by staff instead of message ${id} (${message.channel})`,
          to: again.to,
          from:
            channel === 'email' ? directory.senderEmail(message.branchcode) : (directory.branch(message.branchcode)?.branchname ?? null),
          replyTo: channel === 'email' ? directory.replyTo(message.branchcode) : null,
          lang: again.lang,
          subject: again.subject,
          text: again.text,
          html: again.html,
          fee: Number(message.fee),
          runId: message.run_id,
          ruleId: message.rule_id ?? null,
          renderData: message.render_data ? (JSON.parse(message.render_data) as unknown) : undefined,
          // The loans stay covered by the first message; the resend covers nothing of its own.
          items: items.map((i) => ({
            coverageKey: null,
            issueId: i.issue_id,
            reserveId: i.reserve_id,
            itemnumber: i.itemnumber,
            barcode: i.barcode,
            title: i.title,
            author: i.author,
            dateDue: i.date_due,
            fee: Number(i.fee),
          })),
        },
      ],
      now,
      actor,
    );
    if (!made.ids.length) return { outcome: 'not_in_queue' };
    const newId = made.ids[0];
    const at = toDbTime(now);
    await this.deps.knex.transaction(async (trx) => {
      await trx('kmc_queue_handled')
        .insert({ message_id: id, handled_by: staffNumber, handled_at: at, how: 'resent', resent_as: newId })
        .onConflict('message_id')
        .ignore();
      await trx('kmc_message_events').insert({
        message_id: id,
        at,
        status: message.status,
        detail: `sent again by ${channel} as message ${newId}`,
        actor,
      });
    });
    return { outcome: 'done', newId };
  }

  async cancel(id: number, actor: string): Promise<ActionOutcome> {
    const message = await this.queued(this.deps.knex, id);
    if (!message) return 'not_in_queue';
    const at = this.now();
    return this.deps.knex.transaction(async (trx) => {
      const n = await trx('kmc_messages')
        .where({ id, status: message.status })
        .update({ status: 'cancelled', status_reason: 'cancelled by staff', next_attempt_at: null, updated_at: at });
      if (!n) return 'not_in_queue' as const;
      await trx('kmc_message_events').insert({ message_id: id, at, status: 'cancelled', detail: 'cancelled by staff', actor });
      return 'done' as const;
    });
  }

  /** Staff dealt with it some other way (a phone call, a word at the desk): it leaves the queue, its status stays. */
  async markHandled(id: number, actor: string, staffNumber: number): Promise<ActionOutcome> {
    const message = await this.queued(this.deps.knex, id);
    if (!message) return 'not_in_queue';
    const at = this.now();
    await this.deps.knex.transaction(async (trx) => {
      await trx('kmc_queue_handled')
        .insert({ message_id: id, handled_by: staffNumber, handled_at: at, how: 'handled' })
        .onConflict('message_id')
        .ignore();
      await trx('kmc_message_events').insert({ message_id: id, at, status: message.status, detail: 'marked as handled by staff', actor });
      await trx('kmc_messages').where({ id }).update({ updated_at: at });
    });
    return 'done';
  }
}
