/**
 * Renders a stored message again for another channel ("send as ..." before
 * approval, "resend by another channel" from the queue), from the plain data
 * it was first rendered from (kmc_messages.render_data). The patron's
 * address for the new channel is read from Koha now, since it may have
 * changed since the message was made.
 */
import type { ChannelName } from '../channels/contract';
import { chooseChannel } from '../contact';
import { KmcError, TemplateError } from '../errors';
import type { MessageRow } from '../queue';
import type { RenderedNotice } from '../rendering/notices';
import { BranchDirectory, type NoticeDeps } from './context';

export interface RenderedAgain extends RenderedNotice {
  channel: ChannelName;
  /** The address for the new channel, or null when the patron has none usable ... */
  to: string | null;
  /** ... and then why, in words staff can act on. */
  reason: string | null;
}

export type RenderAgainDeps = Pick<NoticeDeps, 'host' | 'knex' | 'renderer' | 'rules' | 'settings' | 'availableChannels'>;

type StoredMessage = Pick<MessageRow, 'id' | 'message_type' | 'borrowernumber' | 'branchcode' | 'lang'> & {
  render_data?: string | null;
  rule_id?: number | null;
};

export async function renderAgain(deps: RenderAgainDeps, message: StoredMessage, channel: ChannelName): Promise<RenderedAgain> {
  if (!['email', 'sms', 'print'].includes(channel)) throw new KmcError('KMC_BAD_CHANNEL', `unknown channel "${channel}"`);
  let data: Record<string, unknown>;
  try {
    const parsed = JSON.parse(message.render_data ?? 'null') as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a set of named values');
    data = parsed as Record<string, unknown>;
  } catch {
    throw new KmcError(
      'KMC_NO_RENDER_DATA',
      `message ${message.id} did not keep the data it was made from, so it cannot be rendered for another channel`,
    );
  }
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
  const rule = message.rule_id ? await deps.rules.get(Number(message.rule_id)) : null;
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
