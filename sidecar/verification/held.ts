/**
 * What happens to e-mail notices that wait (`held`) for a patron to verify
 * an address: released to the queue once the address is verified, or sent
 * by the patron's next channel once it expired (or was removed) unverified.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { MessageItemRow, MessageRow } from '../queue';
import type { PatronContact } from '../host';
import type { Rule } from '../rules';
import type { ChannelName } from '../kernel';
import { chooseChannel } from '../contact';
import { BranchDirectory, QuietHours, renderAgain, type NoticeDeps } from '../notices';
import { patronTemplateData } from '../notices/context';
import { asKohaDateFormat, formatAmount, formatKohaDate, type KohaDateFormat, type RenderedNotice } from '../rendering';

const chunk = <T>(list: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
};

/**
 * Held e-mail notices of these patrons go to the queue now, to the address
 * that was verified (the patron may have changed it since the notice was
 * made). Runs inside the caller's transaction when given one, so a
 * verification and its release commit together.
 */
export async function releaseHeldEmail(
  db: Knex | Knex.Transaction,
  patrons: Array<{ borrowernumber: number; email: string }>,
  at: Date,
  actor: string,
  detail: string,
): Promise<number> {
  if (!patrons.length) return 0;
  const now = toDbTime(at);
  const release = async (trx: Knex.Transaction) => {
    let released = 0;
    for (const part of chunk(patrons, 500)) {
      const rows: Array<{ id: number; borrowernumber: number }> = await trx('kmc_messages')
        .whereIn(
          'borrowernumber',
          part.map((p) => p.borrowernumber),
        )
        .where({ status: 'held', channel: 'email' })
        .whereNot('message_type', 'email_verification')
        .forUpdate()
        .select('id', 'borrowernumber');
      if (!rows.length) continue;
      const emailOf = new Map(part.map((p) => [p.borrowernumber, p.email]));
      const byPatron = new Map<number, number[]>();
      for (const r of rows) byPatron.set(r.borrowernumber, [...(byPatron.get(r.borrowernumber) ?? []), Number(r.id)]);
      for (const [borrowernumber, ids] of byPatron) {
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where({ status: 'held' })
          .update({
            status: 'pending',
            status_reason: null,
            to_address: emailOf.get(borrowernumber)!,
            next_attempt_at: now,
            updated_at: now,
          });
      }
      await trx('kmc_message_events').insert(rows.map((r) => ({ message_id: Number(r.id), at: now, status: 'pending', detail, actor })));
      released += rows.length;
    }
    return released;
  };
  return (db as Knex.Transaction).isTransaction ? release(db as Knex.Transaction) : (db as Knex).transaction(release);
}

export interface FallbackResult {
  byChannel: Record<string, number>;
  missingContact: number;
}

export type FallbackDeps = Pick<
  NoticeDeps,
  'knex' | 'host' | 'rules' | 'renderer' | 'logger' | 'settings' | 'availableChannels' | 'smsAvailability'
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
  const held: MessageRow[] = [];
  for (const part of chunk(borrowernumbers, 500)) {
    held.push(
      ...(await deps
        .knex<MessageRow>('kmc_messages')
        .whereIn('borrowernumber', part)
        .where({ status: 'held', channel: 'email' })
        .whereNot('message_type', 'email_verification')
        .orderBy('id')
        .select()),
    );
  }
  if (!held.length) return result;

  const [patrons, directory, prefs, quiet, sms] = await Promise.all([
    deps.host.patrons(held.map((m) => m.borrowernumber)),
    BranchDirectory.load(deps),
    deps.host.systemPreferences(['dateformat']),
    QuietHours.load(deps.knex, deps.settings.timezone),
    deps.smsAvailability ? deps.smsAvailability() : Promise.resolve(null),
    deps.renderer.refresh(),
  ]);
  // SMS only from branches with an account, as the generators decide.
  const availableFrom = (branchcode: string | null): ChannelName[] =>
    !sms || sms.canSend(branchcode) ? deps.availableChannels : deps.availableChannels.filter((c) => c !== 'sms');
  const dateFormat = asKohaDateFormat(prefs.dateformat);
  const items = new Map<number, MessageItemRow[]>();
  for (const part of chunk(
    held.map((m) => m.id),
    500,
  )) {
    const rows = await deps.knex<MessageItemRow>('kmc_message_items').whereIn('message_id', part).orderBy(['message_id', 'id']).select();
    for (const it of rows) items.set(it.message_id, [...(items.get(it.message_id) ?? []), it]);
  }
  const rulesByType = new Map<string, Rule[]>();
  const ruleFor = async (m: MessageRow & { rule_id?: number | null }): Promise<Rule | null> => {
    const key = `${m.message_type}|${m.level}`;
    let list = rulesByType.get(key);
    if (!list) rulesByType.set(key, (list = await deps.rules.forType(m.message_type as Rule['message_type'], m.level)));
    return list.find((r) => r.id === m.rule_id) ?? list.find((r) => r.is_baseline) ?? null;
  };

  const now = toDbTime(at);
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
    let update: Record<string, unknown>;
    let detail: string;
    if (choice.ok && choice.channel !== 'email' && patron) {
      const rendered = await renderForChannel(deps, m, items.get(m.id) ?? [], choice.channel, choice.to, patron, directory, dateFormat);
      // An SMS in the branch's quiet hours waits for them to end, like any other.
      const quietNow = choice.channel === 'sms' && quiet.isQuiet(m.branchcode, at);
      update = {
        channel: choice.channel,
        status: quietNow ? 'held' : 'pending',
        status_reason: quietNow ? quiet.reason(m.branchcode) : null,
        to_address: choice.to,
        from_address: choice.channel === 'print' ? (directory.branch(m.branchcode)?.branchname ?? null) : m.from_address,
        reply_to: null,
        lang: rendered.lang,
        subject: rendered.subject.slice(0, 255),
        body_text: rendered.text,
        body_html: rendered.html,
        next_attempt_at: quietNow ? null : now,
        updated_at: now,
      };
      detail = `${cause}: goes by ${choice.channel} instead${quietNow ? ` (${quiet.reason(m.branchcode)})` : ''}`;
      result.byChannel[choice.channel] = (result.byChannel[choice.channel] ?? 0) + 1;
    } else {
      const reason = choice.ok ? 'email: address expired without being verified' : choice.reason;
      update = { status: 'missing_contact', status_reason: reason.slice(0, 255), next_attempt_at: null, updated_at: now };
      detail = `${cause}; no other channel: ${reason}`;
      result.missingContact += 1;
    }
    await deps.knex.transaction(async (trx) => {
      const n = await trx('kmc_messages').where({ id: m.id, status: 'held' }).update(update);
      if (n) await trx('kmc_message_events').insert({ message_id: m.id, at: now, status: update.status as string, detail, actor });
    });
    deps.logger.info('verification.held_notice_rerouted', {
      messageId: m.id,
      borrowernumber: m.borrowernumber,
      channel: update.channel ?? null,
      status: update.status,
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
