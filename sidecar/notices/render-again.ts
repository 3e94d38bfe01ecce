/**
 * Renders a stored message again for another channel ("send as ..." before
 * approval, "resend by another channel" from the queue), from the plain data
 * it was first rendered from (kmc_messages.render_data). The patron's
 * address for the new channel is read from Koha now, since it may have
 * changed since the message was made.
 */
import type { ChannelName } from '../kernel';
import { chooseChannel } from '../contact';
import { KmcError, TemplateError } from '../errors';
import type { MessageItemRow, MessageRow, ResentContent } from '../queue';
import type { RenderedNotice } from '../rendering';
import { BranchDirectory, type NoticeDeps } from './context';

export interface RenderedAgain extends RenderedNotice {
  channel: ChannelName;
  /** The address for the new channel, or null when the patron has none usable ... */
  to: string | null;
  /** ... and then why, in words staff can act on. */
  reason: string | null;
}

export type RenderAgainDeps = Pick<NoticeDeps, 'host' | 'branches' | 'renderer' | 'rules' | 'settings' | 'availableChannels'>;

type StoredMessage = Pick<MessageRow, 'id' | 'message_type' | 'borrowernumber' | 'branchcode' | 'lang'> & {
  render_data?: string | null;
  rule_id?: number | null;
};

/** The plain data a message was rendered from; KMC_NO_RENDER_DATA (saying what cannot be done) when it kept none. */
export function renderDataOf(message: Pick<StoredMessage, 'id' | 'render_data'>, cannot: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(message.render_data ?? 'null') as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a set of named values');
    return parsed as Record<string, unknown>;
  } catch {
    throw new KmcError('KMC_NO_RENDER_DATA', `message ${message.id} did not keep the data it was made from, so it cannot be ${cannot}`);
  }
}

export async function renderAgain(deps: RenderAgainDeps, message: StoredMessage, channel: ChannelName): Promise<RenderedAgain> {
  if (!['email', 'sms', 'print'].includes(channel)) throw new KmcError('KMC_BAD_CHANNEL', `unknown channel "${channel}"`);
  const data = renderDataOf(message, 'rendered for another channel');
  const patron = await deps.host.patron(message.borrowernumber);
  const choice = patron
    ? chooseChannel([channel], patron, { defaultCountry: deps.settings.defaultCountry, available: deps.availableChannels })
    : ({ ok: false, reason: 'the patron is no longer in Koha' } as const);
  const [directory] = await Promise.all([BranchDirectory.load(deps), deps.renderer.refresh()]);
  const fresh = {
    ...data,
    address: choice.ok && channel === 'print' ? choice.to : '',
    // SMS carries no general text to patrons.
    message: channel === 'sms' ? '' : (data.message ?? ''),
  };
  const langs = [...(message.lang ? [message.lang] : []), ...(patron ? directory.langsFor(patron) : [])];
  const rule = message.rule_id ? await deps.rules.get(message.rule_id) : null;
  const args = { channel, langs, branchcode: message.branchcode, data: fresh };
  let rendered: RenderedNotice | null = null;
  if (rule?.template_code && rule.template_code !== message.message_type) {
    try {
      rendered = deps.renderer.render({ ...args, type: rule.template_code });
    } catch (err) {
      if (!(err instanceof TemplateError) || err.details.reason !== 'missing') throw err;
    }
  }
  rendered ??= deps.renderer.render({ ...args, type: message.message_type });
  return {
    ...rendered,
    channel,
    to: choice.ok ? choice.to : null,
    reason: choice.ok ? null : choice.reason.replace(/; print: letters not allowed by the rule$/, ''),
  };
}

/**
 * A stored message made again for another channel, as the queue's resend
 * stores it: the text, the patron's address now, and the branch's sender.
 */
export async function resentContent(deps: RenderAgainDeps, message: MessageRow, channel: ChannelName): Promise<ResentContent> {
  return contentFor(await renderAgain(deps, message, channel), message.branchcode, await BranchDirectory.load(deps));
}

/** What a message rendered again stores: its text and address, and the branch's sender for its channel. */
export function contentFor(again: RenderedAgain, branchcode: string | null, directory: BranchDirectory): ResentContent {
  return {
    to: again.to,
    reason: again.reason,
    from: again.channel === 'email' ? directory.senderHeader(branchcode) : (directory.branch(branchcode)?.branchname ?? null),
    replyTo: again.channel === 'email' ? directory.replyToHeader(branchcode) : null,
    lang: again.lang,
    subject: again.subject,
    text: again.text,
    html: again.html,
  };
}

/** A message's item line as far as leaving it out needs. */
export type ItemLine = Pick<MessageItemRow, 'id' | 'message_id' | 'title' | 'barcode' | 'fee'>;

/**
 * A message's render data without some of its items (left out by staff, or no longer current in Koha): their
 * lines gone and the fee less theirs, in words by `amount` (read only when the fee changes).
 */
export async function renderDataWithout(
  message: Pick<MessageRow, 'id' | 'fee'> & { render_data?: string | null },
  own: ItemLine[],
  removed: ItemLine[],
  amount: () => Promise<(value: number) => string>,
  cannot: string,
): Promise<{ data: Record<string, unknown>; fee: number }> {
  let data = renderDataOf(message, cannot);
  let fee = Number(message.fee);
  if (!removed.length) return { data, fee };
  const lines: unknown[] = Array.isArray(data.items) ? (data.items as unknown[]) : [];
  const gone = new Set(removed.map((r) => r.id));
  const barcodeOf = (l: unknown): unknown => (l && typeof l === 'object' && 'barcode' in l ? l.barcode : undefined);
  // The template's item lines are in the order of the message's items; match by barcode when they are not.
  const kept =
    lines.length === own.length
      ? lines.filter((_, i) => !gone.has(own[i].id))
      : lines.filter((l) => !removed.some((r) => r.barcode && barcodeOf(l) === r.barcode));
  fee = Math.round((fee - removed.reduce((s, r) => s + Number(r.fee || 0), 0)) * 100) / 100;
  data = { ...data, items: kept };
  if (fee !== Number(message.fee)) data = { ...data, fee, fee_text: (await amount())(fee) };
  return { data, fee };
}
