/**
 * What happens to e-mail notices that wait (`held`) for a patron to verify
 * an address: released to the queue once the address is verified, or sent
 * by the patron's next channel once it expired (or was removed) unverified.
 */
import { placeMessage, QuietHours, type MessageItemRow, type MessageRow } from '../queue';
import type { PatronContact } from '../host';
import type { Rule } from '../rules';
import type { ChannelName } from '../kernel';
import { chooseChannel } from '../contact';
import { BranchDirectory, patronTemplateData, renderAgain, type NoticeDeps } from '../notices';
import { asKohaDateFormat, formatAmount, formatKohaDate, type KohaDateFormat, type RenderedNotice } from '../rendering';

export interface FallbackResult {
  byChannel: Record<string, number>;
  missingContact: number;
}

export type FallbackDeps = Pick<
  NoticeDeps,
  'branches' | 'store' | 'host' | 'rules' | 'renderer' | 'logger' | 'settings' | 'availableChannels' | 'smsAvailability'
>;

/**
 * Held e-mail notices of these patrons can no longer go by e-mail: each goes
 * by the next channel its rule allows (re-rendered for that channel), or
 * becomes missing_contact with the reason when none is left. The message
 * keeps its id and history; only its channel and text change.
 */
export async function sendHeldByNextChannel(
  deps: FallbackDeps,
  borrowernumbers: number[],
  why: 'expired' | 'removed',
  at: Date,
  actor: string,
): Promise<FallbackResult> {
  const result: FallbackResult = { byChannel: {}, missingContact: 0 };
  if (!borrowernumbers.length) return result;
  const held = await deps.store.heldEmail(borrowernumbers);
  if (!held.length) return result;

  const [patrons, directory, prefs, quiet, sms] = await Promise.all([
    deps.host.patrons(held.map((m) => m.borrowernumber)),
    BranchDirectory.load(deps),
    deps.host.systemPreferences(['dateformat']),
    QuietHours.load(deps.branches, deps.settings.timezone),
    deps.smsAvailability ? deps.smsAvailability() : Promise.resolve(null),
    deps.renderer.refresh(),
  ]);
  // SMS only from branches with an account, as the generators decide.
  const availableFrom = (branchcode: string | null): ChannelName[] =>
    !sms || sms.canSend(branchcode) ? deps.availableChannels : deps.availableChannels.filter((c) => c !== 'sms');
  const dateFormat = asKohaDateFormat(prefs.dateformat);
  const items = new Map<number, MessageItemRow[]>();
  for (const it of await deps.store.items(held.map((m) => m.id))) items.set(it.message_id, [...(items.get(it.message_id) ?? []), it]);
  const rulesByType = new Map<string, Rule[]>();
  const ruleFor = async (m: MessageRow & { rule_id?: number | null }): Promise<Rule | null> => {
    const key = `${m.message_type}|${m.level}`;
    let list = rulesByType.get(key);
    if (!list) {
      list = await deps.rules.forType(m.message_type as Rule['message_type'], m.level);
      rulesByType.set(key, list);
    }
    return list.find((r) => r.id === m.rule_id) ?? list.find((r) => r.is_baseline) ?? null;
  };

  const cause =
    why === 'expired' ? 'the e-mail address expired without being verified' : 'the e-mail address was removed before it was verified';
  for (const m of held) {
    const patron = patrons.get(m.borrowernumber);
    const rule = await ruleFor(m);
    const allowed: ChannelName[] = rule ? rule.channels : ['print'];
    const choice = patron
      ? chooseChannel(allowed, patron, {
          defaultCountry: deps.settings.defaultCountry,
          available: availableFrom(m.branchcode),
          emailState: 'expired',
        })
      : { ok: false as const, reason: 'the patron is no longer in Koha' };
    let channel: ChannelName | null = null;
    let place;
    if (choice.ok && choice.channel !== 'email' && patron) {
      channel = choice.channel;
      const rendered = await renderForChannel(deps, m, items.get(m.id) ?? [], choice.channel, choice.to, patron, directory, dateFormat);
      // An SMS in the branch's quiet hours waits for them to end, like any other.
      place = placeMessage({ channel, quietHours: quiet.quietNow(m.branchcode, at) });
      await deps.store.rewrite({
        id: m.id,
        status: 'held',
        content: {
          channel,
          to: choice.to,
          from: channel === 'print' ? (directory.branch(m.branchcode)?.branchname ?? null) : m.from_address,
          replyTo: null,
          lang: rendered.lang,
          subject: rendered.subject,
          text: rendered.text,
          html: rendered.html,
        },
        place,
        detail: `${cause}: goes by ${channel} instead${place.reason ? ` (${place.reason})` : ''}`,
        actor,
        at,
      });
      result.byChannel[channel] = (result.byChannel[channel] ?? 0) + 1;
    } else {
      const reason = choice.ok ? 'email: address expired without being verified' : choice.reason;
      place = { status: 'missing_contact' as const, reason };
      await deps.store.rewrite({
        id: m.id,
        status: 'held',
        content: null,
        place,
        detail: `${cause}; no other channel: ${reason}`,
        actor,
        at,
      });
      result.missingContact += 1;
    }
    deps.logger.info('verification.held_notice_rerouted', {
      messageId: m.id,
      borrowernumber: m.borrowernumber,
      channel,
      status: place.status,
    });
  }
  return result;
}

/**
 * Renders a stored notice again for another channel: by the notice engine's
 * renderAgain from the data the message was first rendered from, or, for a
 * message made before messages kept that data, from the message and the
 * loans it covers, rebuilt as the overdue generator builds it.
 */
async function renderForChannel(
  deps: FallbackDeps,
  m: MessageRow & { render_data?: string | null; rule_id?: number | null },
  items: MessageItemRow[],
  channel: ChannelName,
  to: string,
  patron: PatronContact,
  directory: BranchDirectory,
  dateFormat: KohaDateFormat,
): Promise<RenderedNotice> {
  if (m.render_data) return renderAgain(deps, m, channel);
  const fee = Number(m.fee);
  const data: Record<string, unknown> = {
    patron: patronTemplateData(patron),
    branch: directory.templateData(m.branchcode),
    items: items.map((it) => ({
      title: it.title ?? '',
      author: it.author ?? '',
      barcode: it.barcode ?? '',
      callnumber: '',
      due: formatKohaDate(it.date_due, dateFormat),
    })),
    level: m.level,
    fee,
    fee_text: formatAmount(fee, null),
    today: formatKohaDate(m.created_at, dateFormat),
    message: '',
    address: channel === 'print' ? to : '',
  };
  return deps.renderer.render({
    type: m.message_type,
    channel,
    langs: [...(m.lang ? [m.lang] : []), ...directory.langsFor(patron)],
    branchcode: m.branchcode,
    data,
  });
}
