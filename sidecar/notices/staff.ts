/**
 * Free text from staff to one patron, by e-mail or SMS, sent through the
 * same queue as every notice. Staff choose the channel; when it cannot carry
 * the message (no usable address, not set up, not allowed by the rule) the
 * answer says why and nothing is stored, so staff can pick the other one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { libraryDay, type ChannelName } from '../kernel';
import { chooseChannel } from '../contact';
import { KmcError, type ErrorCode } from '../errors';
import { resolveRule } from '../rules';
import { BranchDirectory, patronTemplateData, type NoticeDeps } from './context';
import { emailStates } from './engine';
import { placeMessage, QuietHours, type NewMessage } from '../queue';

export const STAFF_MESSAGE_CHANNELS = ['email', 'sms'] as const;
export const STAFF_TEXT_MAX = { email: 10_000, sms: 600 } as const;

export interface StaffMessageRequest {
  borrowernumber: number;
  channel: string;
  text: string;
  subject?: string | null;
  /** Who sends it (a staff borrowernumber, or `cli`), for the message's history. */
  actor: string;
  /** The same key twice (a form sent twice) stores one message. */
  requestKey?: string | null;
}

export interface StaffMessageResult {
  id: number;
  status: string;
  channel: ChannelName;
  statusReason: string | null;
  /** True when this request key had already stored the message. */
  duplicate: boolean;
}

function refuse(code: ErrorCode, message: string): never {
  throw new KmcError(code, message);
}

export async function sendStaffMessage(deps: NoticeDeps, req: StaffMessageRequest): Promise<StaffMessageResult> {
  if (!Number.isInteger(req.borrowernumber) || req.borrowernumber <= 0)
    refuse('KMC_STAFF_MESSAGE_INVALID', 'the patron must be given by borrowernumber, a whole number');
  if (!(STAFF_MESSAGE_CHANNELS as readonly string[]).includes(req.channel)) {
    refuse('KMC_STAFF_MESSAGE_INVALID', `channel must be email or sms, got "${req.channel}"`);
  }
  const channel = req.channel as (typeof STAFF_MESSAGE_CHANNELS)[number];
  const text = typeof req.text === 'string' ? req.text.replace(/\r\n/g, '\n').trim() : '';
  if (!text) refuse('KMC_STAFF_MESSAGE_INVALID', 'the message text is empty');
  if (text.length > STAFF_TEXT_MAX[channel])
    refuse(
      'KMC_STAFF_MESSAGE_INVALID',
      `the text is ${text.length} characters; ${channel === 'sms' ? 'an SMS' : 'an e-mail'} from staff takes at most ${STAFF_TEXT_MAX[channel]}`,
    );
  const subject = typeof req.subject === 'string' ? req.subject.replace(/\s+/g, ' ').trim() : '';
  if (subject.length > 200) refuse('KMC_STAFF_MESSAGE_INVALID', 'the subject takes at most 200 characters');
  if (req.requestKey != null && !/^[\x21-\x7e]{8,128}$/.test(req.requestKey))
    refuse('KMC_STAFF_MESSAGE_INVALID', 'the request key must be 8 to 128 printable characters');

  const patron = await deps.host.patron(req.borrowernumber);
  if (!patron) refuse('KMC_PATRON_NOT_FOUND', `there is no patron ${req.borrowernumber} in Koha`);
  const now = deps.clock.now();
  const day = libraryDay(now, deps.settings.timezone);
  const rule = resolveRule(await deps.rules.forType('staff_message'), {
    branchcode: patron.branchcode,
    categorycode: patron.categorycode,
    itemtype: null,
    date: day,
  });
  if (!rule || !rule.is_used) refuse('KMC_TYPE_NOT_USED', 'messages from staff are switched off by the rules for this patron');
  if (!rule.channels.includes(channel))
    refuse(
      'KMC_CHANNEL_NOT_ALLOWED',
      `the rules do not allow messages from staff by ${channel} for this patron (allowed: ${rule.channels.join(', ') || 'none'})`,
    );
  if (!deps.availableChannels.includes(channel))
    refuse('KMC_CHANNEL_UNAVAILABLE', `${channel === 'sms' ? 'SMS is' : 'e-mail is'} not set up on this sidecar`);

  const gate = await emailStates(deps, [patron]);
  const choice = chooseChannel([channel], patron, {
    defaultCountry: deps.settings.defaultCountry,
    available: deps.availableChannels,
    emailState: gate.get(patron.borrowernumber),
  });
  if (!choice.ok)
    refuse(
      'KMC_NO_CONTACT',
      `the message cannot go by ${channel}: ${choice.reason.replace(/; print: letters not allowed by the rule$/, '')}`,
    );

  const [directory, quiet] = await Promise.all([
    BranchDirectory.load(deps),
    QuietHours.load(deps.branches, deps.settings.timezone),
    deps.renderer.refresh(),
  ]);
  const branchcode = patron.branchcode;
  const { status, reason } = placeMessage({
    channel,
    emailState: choice.held ? 'held' : null,
    quietHours: quiet.quietNow(branchcode, now),
  });
  const data = {
    patron: patronTemplateData(patron),
    branch: directory.templateData(branchcode),
    text,
    subject,
    address: '',
    items: [],
    level: 0,
    fee: 0,
    fee_text: '',
    message: '',
    today: day,
  };
  const rendered = deps.renderer.render({ type: 'staff_message', channel, langs: directory.langsFor(patron), branchcode, data });
  const key = req.requestKey
    ? `staff_message:0:${patron.borrowernumber}:${createHash('sha256').update(req.requestKey).digest('hex').slice(0, 32)}`
    : `staff_message:0:${patron.borrowernumber}:${randomUUID()}`;
  const message: NewMessage = {
    idempotencyKey: key,
    messageType: 'staff_message',
    level: 0,
    borrowernumber: patron.borrowernumber,
    branchcode,
    channel,
    status,
    statusReason: reason,
    to: choice.to,
    from: channel === 'email' ? directory.senderHeader(branchcode) : (directory.branch(branchcode)?.branchname ?? null),
    replyTo: channel === 'email' ? directory.replyToHeader(branchcode) : null,
    lang: rendered.lang,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    fee: 0,
    runId: null,
    ruleId: rule.id,
    noticeDate: day,
    renderData: data,
    items: [],
  };
  const stored = await deps.store.insertMessages([message], now, req.actor);
  const row = await deps.store.byKey(key);
  if (!row) throw new KmcError('KMC_INTERNAL', 'the message was stored but cannot be read back');
  deps.logger.info('staff_message.created', {
    messageId: row.id,
    borrowernumber: patron.borrowernumber,
    channel,
    status: row.status,
    actor: req.actor,
    duplicate: stored.created === 0,
  });
  return { id: row.id, status: row.status, channel: row.channel, statusReason: row.status_reason, duplicate: stored.created === 0 };
}
