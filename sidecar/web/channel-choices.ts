/**
 * Which channels staff may pick for messages on a page ("send as" in a run's
 * review, the queue's resend): for each message, what can work for its patron
 * and branch now, by the contact rules, the branches' SMS accounts and the
 * e-mail gate (verification, bounces). Reads only through WebDeps.
 */
import { CHANNELS, type ChannelName } from '../kernel';
import { patronEmail, workingChannels } from '../contact';
import type { WebDeps } from './kit';

export interface ChoiceFacts {
  id: number;
  borrowernumber: number;
  branchcode: string | null;
}

/** The channels set up here, in the usual order (SMS only with an SMS account). */
export function channelsSetUp(deps: Pick<WebDeps, 'notices'>): ChannelName[] {
  return CHANNELS.filter((c) => deps.notices.availableChannels.includes(c) && (c !== 'sms' || !!deps.notices.smsAvailability));
}

/** For each message id, the channels that can carry it now. */
export async function channelChoices(
  deps: Pick<WebDeps, 'notices' | 'host' | 'settings'>,
  messages: readonly ChoiceFacts[],
): Promise<Map<number, ChannelName[]>> {
  const out = new Map<number, ChannelName[]>();
  if (!messages.length) return out;
  const available = channelsSetUp(deps);
  const [patrons, sms] = await Promise.all([
    deps.host.patrons(messages.map((m) => m.borrowernumber)),
    available.includes('sms') && deps.notices.smsAvailability ? deps.notices.smsAvailability() : Promise.resolve(null),
  ]);
  const addresses: Array<{ borrowernumber: number; email: string }> = [];
  for (const p of patrons.values()) {
    const email = patronEmail(p);
    if (email) addresses.push({ borrowernumber: p.borrowernumber, email });
  }
  const gate = deps.notices.emailGate && addresses.length ? await deps.notices.emailGate.check(addresses) : new Map<number, string>();
  for (const m of messages) {
    out.set(
      m.id,
      workingChannels(patrons.get(m.borrowernumber) ?? null, {
        defaultCountry: deps.settings.defaultCountry,
        available,
        branchSendsSms: !!sms?.canSend(m.branchcode),
        emailState: gate.get(m.borrowernumber) ?? null,
      }),
    );
  }
  return out;
}
