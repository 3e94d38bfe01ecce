/**
 * What the sidecar records in its own words (a message's reason, the actor
 * of a history entry, an audit entry's action and detail) said in the staff
 * member's language. Records keep their stable English form; pages show it
 * through here. A text none of the patterns knows (a server's reply, for
 * example) is data and is shown as it is.
 */
import cronstrue from 'cronstrue/i18n';
import type { StaffReader } from '../host';
import type { PageLang, Translate } from './i18n';

/** Known reasons: the recorded text, and the catalogue key that says it (with the parts it carries). */
const REASONS: Array<{ re: RegExp; key: string; names?: string[] }> = [
  { re: /^left out by staff before approval$/, key: 'why.left_out' },
  { re: /^every item left out by staff before approval$/, key: 'why.all_items_left_out' },
  { re: /^left out by staff: (.+)$/, key: 'why.items_left_out', names: ['items'] },
  // Never stale: checked against Koha before sending or approval (notices/recheck.ts).
  { re: /^items no longer current left out$/, key: 'why.stale_items_dropped' },
  { re: /^nothing left to send$/, key: 'why.stale_nothing_left' },
  { re: /^returned since the notice was made: ([^;]+)$/, key: 'why.stale_returned', names: ['items'] },
  { re: /^renewed since the notice was made: ([^;]+)$/, key: 'why.stale_renewed', names: ['items'] },
  { re: /^renewed since the notice was made, no longer overdue: ([^;]+)$/, key: 'why.stale_not_overdue', names: ['items'] },
  { re: /^its due time has passed: ([^;]+)$/, key: 'why.stale_due_time_passed', names: ['items'] },
  { re: /^hold picked up or cancelled since the notice was made: ([^;]+)$/, key: 'why.stale_hold_gone', names: ['items'] },
  { re: /^hold no longer waiting for pickup: ([^;]+)$/, key: 'why.stale_hold_not_waiting', names: ['items'] },
  { re: /^hold expired since the notice was made: ([^;]+)$/, key: 'why.stale_hold_expired', names: ['items'] },
  { re: /^cancelled by staff$/, key: 'why.cancelled_by_staff' },
  { re: /^no address for (.+)$/, key: 'why.no_address_for', names: ['channel'] },
  { re: /^staff's change could not be made: (.+)$/, key: 'why.change_failed', names: ['detail'] },
  { re: /^the patron is no longer in Koha$/, key: 'why.patron_gone' },
  { re: /^approved by staff$/, key: 'why.approved' },
  { re: /^tried again by staff$/, key: 'why.tried_again' },
  { re: /^marked as handled by staff$/, key: 'why.handled' },
  { re: /^sent again by staff instead of message (\d+) \((\w+)\)$/, key: 'why.resent_instead_of', names: ['id', 'channel'] },
  { re: /^sent again by (\w+) as message (\d+)$/, key: 'why.resent_as', names: ['channel', 'id'] },
  { re: /^SMS quiet hours are over$/, key: 'why.quiet_hours_over' },
  { re: /^delivery report: (.+)$/, key: 'why.delivery_report', names: ['detail'] },
  { re: /^delivery receipt: (.+)$/, key: 'why.delivery_receipt', names: ['detail'] },
  { re: /^lease expired: /, key: 'why.lease_expired' },
];

function knownReason(t: Translate, reason: string): string | null {
  for (const r of REASONS) {
    const m = r.re.exec(reason);
    if (!m) continue;
    const params: Record<string, string> = {};
    (r.names ?? []).forEach((name, i) => {
      const v = m[i + 1];
      params[name] = name === 'channel' && Object.hasOwn(CHANNEL_KEYS, v) ? t(CHANNEL_KEYS[v]) : v;
    });
    return t(r.key, params);
  }
  return null;
}

const CHANNEL_KEYS: Record<string, string> = { email: 'channel.email', sms: 'channel.sms', print: 'channel.print' };

/** A recorded reason in the staff member's language; unknown texts as they are. */
export function reasonWords(t: Translate, reason: string | null | undefined): string {
  if (!reason) return '';
  // "waiting for staff approval (routine "X"); then <reason>"
  const waiting = /^waiting for staff approval(?: \(routine "(.*)"\))?(?:; then (.+))?$/.exec(reason);
  if (waiting) {
    const [, routine, then] = waiting as Array<string | undefined>;
    const first = routine !== undefined ? t('why.waiting_routine', { routine: routineNameWords(t, routine) }) : t('why.waiting');
    return then ? `${first}; ${reasonWords(t, then)}` : first;
  }
  const whole = knownReason(t, reason);
  if (whole !== null) return whole;
  // "approved by staff; <where it went>": each known part in words, the rest as recorded.
  const cut = reason.indexOf('; ');
  if (cut > 0) {
    const head = knownReason(t, reason.slice(0, cut));
    if (head !== null) return `${head}; ${reasonWords(t, reason.slice(cut + 2))}`;
  }
  return reason;
}

/** The staff numbers in actors such as `staff:7`. */
export function staffNumbersOf(actors: Array<string | null | undefined>): number[] {
  const out = new Set<number>();
  for (const a of actors) {
    const m = /^staff:(\d+)$/.exec(a ?? '');
    if (m) out.add(Number(m[1]));
  }
  return [...out];
}

/** Staff members' names by borrowernumber, for the actors on a page. */
export async function staffNames(staff: StaffReader, actors: Array<string | null | undefined>): Promise<Record<number, string>> {
  const names: Record<number, string> = {};
  for (const n of staffNumbersOf(actors)) {
    const account = await staff.staffAccount(n);
    if (account) names[n] = [account.firstname, account.surname].filter(Boolean).join(' ') || account.userid || `#${n}`;
  }
  return names;
}

/** Who did it, in words: a staff member's name, the schedule, the command line, the sending process. */
export function actorWords(t: Translate, actor: string | null | undefined, names: Record<number, string> = {}): string {
  if (!actor) return '';
  const staff = /^staff:(\d+)$/.exec(actor);
  if (staff) return names[Number(staff[1])] ?? t('who.staff_number', { n: staff[1] });
  if (actor === 'staff (api)' || actor === 'api') return t('who.api');
  if (actor === 'scheduler') return t('who.scheduler');
  if (actor === 'cli') return t('who.cli');
  if (actor === 'demo') return t('who.demo');
  const smsc = /^smsc:(.*)$/.exec(actor);
  if (smsc) return smsc[1] ? t('who.smsc_account', { account: smsc[1] }) : t('who.smsc');
  // A sending process: host:pid:…
  if (/^[^:\s]+:\d+(:|$)/.test(actor)) return t('who.worker');
  return actor;
}

const AUDIT_ACTIONS = new Set([
  'csrf.refused',
  'launch.refused',
  'routine.create',
  'routine.run',
  'routine.run_refused',
  'routine.update',
  'rule.create',
  'rule.remove',
  'rule.remove_refused',
  'rule.update',
  'run.approve',
  'run.review',
  'run.letters',
  'run.all_letters',
  'settings.channels',
  'settings.save',
  'settings.test_email',
  'settings.test_sms',
  'signin',
  'signin.failed',
  'signin.not_staff',
  'signin.throttled',
  'signout',
  'template.reset',
  'template.save',
  'queue.retry',
  'queue.resend',
  'queue.cancel',
  'queue.handled',
]);

const AUDIT_OBJECTS = new Set(['routine', 'run', 'branch', 'rule', 'template', 'messages', 'path']);

/** An audit entry's action in words. */
export function auditActionWords(t: Translate, action: string): string {
  return AUDIT_ACTIONS.has(action) ? t(`audit.do.${action}`) : t('audit.do.other', { action });
}

/** An audit entry's object in words ("run 4"). */
export function auditObjectWords(t: Translate, type: string | null, id: string | number | null): string {
  if (!type) return '';
  return AUDIT_OBJECTS.has(type) ? t(`audit.obj.${type}`, { id: id ?? '' }).trim() : `${type} ${id ?? ''}`.trim();
}

function detailOf(json: string | null): Record<string, unknown> {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An audit entry's detail in words: the figures and choices it carries, never its JSON. */
export function auditDetailWords(t: Translate, action: string, json: string | null): string {
  const d = detailOf(json);
  const list = (v: unknown) =>
    Array.isArray(v) ? v.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : '')).join(', ') : '';
  switch (action) {
    case 'run.approve':
      return t('audit.detail.run.approve', {
        queued: d.queued ?? 0,
        cancelled: d.cancelled ?? 0,
        missing: d.missing ?? 0,
        failed: d.failed ?? 0,
      });
    case 'run.review':
      return t('audit.detail.run.review', { changed: d.changed ?? 0 });
    case 'run.letters':
    case 'run.all_letters':
      return t('audit.detail.letters', { n: d.letters ?? 0 });
    case 'signin':
      return d.via === 'launch' ? t('audit.detail.via_launch') : t('audit.detail.via_password');
    case 'signin.failed':
    case 'signin.throttled':
      return typeof d.userid === 'string' ? t('audit.detail.userid', { userid: d.userid }) : '';
    case 'launch.refused':
      return typeof d.reason === 'string' && /^[a-z_]+$/.test(d.reason) ? t(`launch.refused.${d.reason}`) : '';
    case 'routine.create':
    case 'routine.update':
      return typeof d.name === 'string' ? t('audit.detail.routine', { name: d.name }) : '';
    case 'settings.save':
      return t('audit.detail.fields', { fields: list(d.fields) });
    case 'settings.test_email':
    case 'settings.test_sms':
      return typeof d.outcome === 'string' ? t('audit.detail.outcome', { outcome: d.outcome }) : '';
    case 'queue.retry':
    case 'queue.resend':
    case 'queue.cancel':
    case 'queue.handled':
      return t('audit.detail.messages', { ids: list(d.ids) });
    default:
      return '';
  }
}

/** The routines every new installation starts with, by the name they were given (sql/002_notice_engine.sql). */
const STANDARD_ROUTINES: Record<string, string> = {
  'Hold pickup notices': 'routine.standard.hold_waiting',
  'Hold pickup reminders': 'routine.standard.hold_reminder',
  'Pre-due reminders': 'routine.standard.predue',
  'Overdue notices': 'routine.standard.overdue',
  'Replacement bills': 'routine.standard.replacement_bill',
  'Welcome messages': 'routine.standard.welcome',
};

/** A routine's name: a standard routine's in the staff member's language, staff's own names as written. */
export function routineNameWords(t: Translate, name: string | null | undefined): string {
  if (!name) return '';
  return Object.hasOwn(STANDARD_ROUTINES, name) ? t(STANDARD_ROUTINES[name]) : name;
}

/** A run that no routine started: by hand for a message type, or a nightly job. */
export function jobWords(t: Translate, job: string | null | undefined, messageType?: string | null): string {
  if (!job) return '';
  const manual = /^manual:([a-z_]+)/.exec(job);
  if (manual) return t('run.job.manual', { type: manual[1] === 'run' ? '' : t(`type.${messageType ?? manual[1]}`) }).trim();
  if (/anonymi[sz]e/.test(job)) return t('run.job.anonymise');
  return job;
}

/**
 * A routine's schedule in words in the staff member's language ("At 06:30, Monday through Friday"), by cronstrue,
 * in 24-hour time; a schedule it cannot read is shown as written, and no schedule means by hand.
 */
export function scheduleWords(t: Translate, lang: PageLang, cron: string | null | undefined): string {
  if (!cron?.trim()) return t('routine.by_hand');
  try {
    return cronstrue.toString(cron, { locale: lang, use24HourTimeFormat: true, verbose: false });
  } catch {
    return cron;
  }
}
