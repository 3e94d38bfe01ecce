/**
 * What staff can do about a message in the queue (failed, or no usable
 * address): try it again, send it by another channel, cancel it, or mark it
 * handled. A message keeps its true status and its history; one that was
 * dealt with leaves the staff queue. A retry or a resend goes where the
 * placement rule says: an SMS during its branch's quiet hours is held until
 * they end, an e-mail to an address waiting for verification until it is
 * verified.
 */
import type { ChannelName, Clock } from '../kernel';
import type { HostReader } from '../host';
import { patronEmail, patronMobile, postalAddress } from '../contact';
import { KmcError } from '../errors';
import { placeMessage, type EmailGate, type EmailGateState, type Placement } from './placement';
import type { QuietHours } from './quiet-hours';
import type { ClosedDays } from './closed-days';
import type { MessageStore } from './store';
import type { MessageRow } from './types';
import type { MessageContent } from './transitions/rewrite';

export type QueueAction = 'retry' | 'resend' | 'cancel' | 'handled';
export const QUEUE_ACTIONS: QueueAction[] = ['retry', 'resend', 'cancel', 'handled'];

export type ActionOutcome = 'done' | 'not_in_queue' | 'no_address' | 'same_channel' | 'cannot_render';

/** A message made again for another channel, as the notice engine renders it; `to` is null when the patron has no address (then `reason` says why). */
export type ResentContent = Omit<MessageContent, 'channel' | 'fee' | 'renderData'> & { reason: string | null };

export interface QueueActionDeps {
  store: MessageStore;
  host: Pick<HostReader, 'patron'>;
  clock: Clock;
  defaultCountry: string;
  /** The branches' SMS quiet hours, read when an action needs them. */
  quietHours: () => Promise<QuietHours>;
  /** The branches' closed-day holds with Koha's calendar, read when an action needs them; absent: none holds. */
  closedDays?: () => Promise<ClosedDays>;
  /** The verification gate; without it every usable e-mail address is used. */
  emailGate?: EmailGate;
  /**
   * Renders a stored message again for another channel (the notice engine
   * does); throws a KmcError KMC_NO_RENDER_DATA when the message did not
   * keep its data. Without it messages cannot be sent by another channel.
   */
  renderFor?: (message: MessageRow, channel: ChannelName) => Promise<ResentContent>;
  /** The channels the message's rule allows, in the rule's order (for the replacement of a bounced e-mail). */
  ruleChannels?: (message: MessageRow) => Promise<ChannelName[]>;
  /** Of these loans, the ones still out (Koha's issue ids). */
  loansOut?: (issueIds: number[]) => Promise<Set<number>>;
}

/** What became of a bounced notice: replaced by another channel, not needed any more, or left in the staff queue. */
export type Replacement =
  | { outcome: 'replaced'; newId: number; channel: ChannelName }
  | { outcome: 'not_needed'; why: string }
  | { outcome: 'not_replaced'; why: string };

export class QueueActions {
  constructor(private readonly deps: QueueActionDeps) {}

  /** Whether messages can be sent by another channel here. */
  get canResend(): boolean {
    return !!this.deps.renderFor;
  }

  /** The patron's address for a channel as Koha has it now. */
  private async addressFor(borrowernumber: number, channel: ChannelName): Promise<string | null> {
    const patron = await this.deps.host.patron(borrowernumber);
    if (!patron) return null;
    if (channel === 'email') return patronEmail(patron);
    if (channel === 'sms') return patronMobile(patron, this.deps.defaultCountry);
    return postalAddress(patron) || null;
  }

  /** Where a message by this channel, to this address, from this branch goes now. */
  private async place(m: {
    borrowernumber: number;
    branchcode: string | null;
    message_type: string;
    channel: ChannelName;
    to: string | null;
  }): Promise<Placement> {
    let emailState: EmailGateState | undefined;
    if (m.channel === 'email' && m.to && this.deps.emailGate)
      emailState = (await this.deps.emailGate.check([{ borrowernumber: m.borrowernumber, email: m.to }])).get(m.borrowernumber);
    const quietHours = m.channel === 'sms' ? (await this.deps.quietHours()).quietNow(m.branchcode, this.deps.clock.now()) : null;
    const closedDay = this.deps.closedDays
      ? (await this.deps.closedDays()).heldNow(m.branchcode, m.message_type, m.channel, this.deps.clock.now())
      : null;
    return placeMessage({ channel: m.channel, emailState, quietHours, closedDay });
  }

  /**
   * Tries again by the same channel. A failed message goes back as it is; a
   * missing-contact one only once the patron has an address. It goes to the
   * queue, or is held for its branch's quiet hours or its address's verification.
   */
  async retry(id: number, actor: string): Promise<ActionOutcome> {
    const message = await this.deps.store.inStaffQueue(id);
    if (!message) return 'not_in_queue';
    let to = message.to_address;
    if (message.status === 'missing_contact') {
      to = await this.addressFor(message.borrowernumber, message.channel);
      if (!to) return 'no_address';
    }
    const placement = await this.place({ ...message, to });
    if (placement.status !== 'pending' && placement.status !== 'held') return 'no_address';
    const moved = await this.deps.store.retryByStaff({
      id,
      from: message.status,
      to,
      placement: { status: placement.status, reason: placement.reason },
      actor,
      at: this.deps.clock.now(),
    });
    return moved ? 'done' : 'not_in_queue';
  }

  /**
   * A bounced e-mail that is still relevant (its loans still out) is replaced at once by the next channel its rule
   * allows after e-mail, as a new message whose history names the bounced one; the bounced one leaves the staff
   * queue. One that cannot be replaced stays in the staff queue for staff to deal with.
   */
  async replaceBounced(id: number, actor: string): Promise<Replacement> {
    const message = await this.deps.store.inStaffQueue(id);
    if (!message || message.status !== 'bounced') return { outcome: 'not_replaced', why: 'not a bounced message in the queue' };
    const items = await this.deps.store.items([id]);
    const loans = items.map((i) => i.issue_id).filter((n): n is number => n !== null);
    if (loans.length && this.deps.loansOut) {
      const out = await this.deps.loansOut(loans);
      if (!loans.some((l) => out.has(l))) {
        const why = 'its loans have all been returned';
        await this.deps.store.note({
          id,
          status: message.status,
          detail: `not replaced: ${why}`,
          actor,
          at: this.deps.clock.now(),
          handled: { by: 0, how: 'handled' },
        });
        return { outcome: 'not_needed', why };
      }
    }
    const channels = this.deps.ruleChannels ? await this.deps.ruleChannels(message) : [];
    const after = channels.slice(channels.indexOf(message.channel) + 1).filter((c) => c !== message.channel);
    const tried: string[] = [];
    for (const channel of after) {
      const made = await this.resendAs(message, channel, actor, 0, `instead of message ${String(id)}, which bounced`);
      if (made.outcome === 'done' && made.newId) return { outcome: 'replaced', newId: made.newId, channel };
      tried.push(`${channel}: ${made.outcome}`);
    }
    const why = tried.length ? tried.join('; ') : 'the rule allows no other channel';
    await this.deps.store.note({ id, status: message.status, detail: `could not be replaced (${why})`, actor, at: this.deps.clock.now() });
    return { outcome: 'not_replaced', why };
  }

  /**
   * Sends the message again by another channel, as a new message made from
   * the same data; the old one keeps its status and leaves the queue.
   */
  async resend(id: number, channel: ChannelName, actor: string, staffNumber: number): Promise<{ outcome: ActionOutcome; newId?: number }> {
    const message = await this.deps.store.inStaffQueue(id);
    if (!message) return { outcome: 'not_in_queue' };
    return this.resendAs(message, channel, actor, staffNumber, `sent again by staff instead of message ${String(id)} (${message.channel})`);
  }

  private async resendAs(
    message: MessageRow,
    channel: ChannelName,
    actor: string,
    staffNumber: number,
    resent: string,
  ): Promise<{ outcome: ActionOutcome; newId?: number }> {
    const renderFor = this.deps.renderFor;
    if (!renderFor) throw new KmcError('KMC_NOT_AVAILABLE', 'messages cannot be rendered again here: the notice engine is not wired in');
    const id = message.id;
    if (message.channel === channel) return { outcome: 'same_channel' };
    let again: ResentContent;
    try {
      again = await renderFor(message, channel);
    } catch (err) {
      if (err instanceof KmcError && err.code === 'KMC_NO_RENDER_DATA') return { outcome: 'cannot_render' };
      throw err;
    }
    if (!again.to) return { outcome: 'no_address' };
    const placement = await this.place({
      borrowernumber: message.borrowernumber,
      branchcode: message.branchcode,
      message_type: message.message_type,
      channel,
      to: again.to,
    });
    if (placement.status !== 'pending' && placement.status !== 'held') return { outcome: 'no_address' };
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
          status: placement.status,
          // A held one's reason comes first: the release finds quiet-hours SMS by it.
          statusReason: placement.reason ? `${placement.reason}; ${resent}` : resent,
          to: again.to,
          from: again.from,
          replyTo: again.replyTo,
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
    await this.deps.store.note({
      id,
      status: message.status,
      detail: `sent again by ${channel} as message ${newId}`,
      actor,
      at: now,
      handled: { by: staffNumber, how: 'resent', resentAs: newId },
    });
    return { outcome: 'done', newId };
  }

  async cancel(id: number, actor: string): Promise<ActionOutcome> {
    const message = await this.deps.store.inStaffQueue(id);
    if (!message) return 'not_in_queue';
    const moved = await this.deps.store.move({
      ids: [id],
      from: message.status,
      to: 'cancelled',
      detail: 'cancelled by staff',
      reason: 'cancelled by staff',
      actor,
      at: this.deps.clock.now(),
    });
    return moved.length ? 'done' : 'not_in_queue';
  }

  /** Staff dealt with it some other way (a phone call, a word at the desk): it leaves the queue, its status stays. */
  async markHandled(id: number, actor: string, staffNumber: number): Promise<ActionOutcome> {
    const message = await this.deps.store.inStaffQueue(id);
    if (!message) return 'not_in_queue';
    await this.deps.store.note({
      id,
      status: message.status,
      detail: 'marked as handled by staff',
      actor,
      at: this.deps.clock.now(),
      handled: { by: staffNumber, how: 'handled' },
    });
    return 'done';
  }

  /** Does one action to each message; returns how many ended in each outcome. */
  async apply(
    action: QueueAction,
    ids: number[],
    who: { actor: string; staffNumber: number; channel: ChannelName | null },
  ): Promise<Partial<Record<ActionOutcome, number>>> {
    const outcomes: Partial<Record<ActionOutcome, number>> = {};
    for (const id of ids) {
      let outcome: ActionOutcome;
      if (action === 'retry') outcome = await this.retry(id, who.actor);
      else if (action === 'resend') {
        if (!who.channel) throw new KmcError('KMC_USAGE', 'a resend needs the channel to send by');
        outcome = (await this.resend(id, who.channel, who.actor, who.staffNumber)).outcome;
      } else if (action === 'cancel') outcome = await this.cancel(id, who.actor);
      else outcome = await this.markHandled(id, who.actor, who.staffNumber);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    return outcomes;
  }
}
