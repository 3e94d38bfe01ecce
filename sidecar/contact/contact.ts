/**
 * Which address of a patron can carry a notice on a channel. A notice goes by
 * exactly one channel: the first allowed one for which the patron has a
 * usable address; a letter needs none, since staff can hand it over.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { ChannelName } from '../kernel';
import type { PatronContact } from '../host';

/** libphonenumber-js (with its metadata of every country), loaded on the first number read. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const phoneNumbers = () => require('libphonenumber-js') as typeof import('libphonenumber-js');

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A deliberately plain syntax check: what an SMTP server would take as an address. */
export function isUsableEmail(value: string | null | undefined): value is string {
  if (!value) return false;
  const email = value.trim();
  if (email.length > 254 || email !== value.trim() || /\s/.test(email)) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0 || at !== email.indexOf('@')) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return false;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => DOMAIN_LABEL.test(l))) return false;
  return /^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]+$/.test(labels[labels.length - 1]);
}

/** A mobile number in E.164 (`+46701234567`), or null when it cannot be read as one. */
export function toE164(value: string | null | undefined, defaultCountry: string): string | null {
  if (!value || !value.trim()) return null;
  const parsed = phoneNumbers().parsePhoneNumberFromString(value.trim(), defaultCountry as CountryCode);
  if (!parsed || !parsed.isValid()) return null;
  return parsed.number;
}

const EMAIL_COLUMNS = ['email', 'emailpro', 'B_email'] as const;

/**
 * The address notices go to: the first usable one of the columns Koha's
 * preferences pick (`email_fields`, from the host reader), in their order;
 * without them email, emailpro, B_email. A column Koha's preference names
 * alone is used alone, as Koha does: no other address stands in for it.
 */
export function patronEmail(p: PatronContact): string | null {
  const picked =
    p.email_fields == null
      ? EMAIL_COLUMNS
      : p.email_fields
          .split(/[,|\s]+/)
          .map((f) => EMAIL_COLUMNS.find((c) => c.toLowerCase() === f.trim().toLowerCase()))
          .filter((c) => c !== undefined);
  for (const column of picked) {
    const candidate = p[column];
    if (isUsableEmail(candidate)) return candidate.trim();
  }
  return null;
}

export function patronMobile(p: PatronContact, defaultCountry: string): string | null {
  for (const candidate of [p.smsalertnumber, p.mobile]) {
    const e164 = toE164(candidate, defaultCountry);
    if (e164) return e164;
  }
  return null;
}

export function postalAddress(p: PatronContact): string {
  const name = [p.title, p.firstname, p.surname].filter(Boolean).join(' ');
  const cityLine = [p.zipcode, p.city].filter(Boolean).join(' ');
  return [name, p.address, p.address2, cityLine, p.country].filter((l) => l?.trim()).join('\n');
}

export type ChannelChoice = { ok: true; channel: ChannelName; to: string; held?: string } | { ok: false; reason: string };

/** Why a channel was passed over, in words staff can act on. */
function whyNot(channel: ChannelName, p: PatronContact): string {
  if (channel === 'email') {
    const given = [p.email, p.emailpro, p.B_email].filter((v) => v && v.trim());
    return given.length ? 'e-mail address is not valid' : 'no e-mail address';
  }
  if (channel === 'sms') {
    const given = [p.smsalertnumber, p.mobile].filter((v) => v && v.trim());
    return given.length ? 'mobile number is not valid' : 'no mobile number';
  }
  return 'letters not allowed';
}

export function chooseChannel(
  allowed: ChannelName[],
  patron: PatronContact,
  opts: {
    defaultCountry: string;
    available?: ChannelName[];
    /**
     * The state of the patron's e-mail: held waits for the patron's verification; expired (never verified) and
     * undeliverable (it bounced) are never used; complained is passed over when `complaintStopsEmail`.
     */
    emailState?: 'held' | 'expired' | 'undeliverable' | 'complained';
    /** The notice may do without e-mail to an address whose owner complained (see address-states). */
    complaintStopsEmail?: boolean;
    /** The patron's notice address, when the caller already read it (patronEmail); read here when absent. */
    email?: string | null;
  },
): ChannelChoice {
  const reasons: string[] = [];
  for (const channel of allowed) {
    if (opts.available && !opts.available.includes(channel)) {
      reasons.push(`${channel}: not set up`);
      continue;
    }
    if (channel === 'email') {
      const to = opts.email === undefined ? patronEmail(patron) : opts.email;
      if (to && opts.emailState === 'expired') {
        reasons.push('email: address expired without being verified');
        continue;
      }
      if (to && opts.emailState === 'undeliverable') {
        reasons.push('email: address undeliverable (it bounced)');
        continue;
      }
      if (to && opts.emailState === 'complained' && opts.complaintStopsEmail) {
        reasons.push('email: the patron complained about notices to this address');
        continue;
      }
      if (to && opts.emailState === 'held') return { ok: true, channel, to, held: 'waiting for the patron to verify the e-mail address' };
      if (to) return { ok: true, channel, to };
    } else if (channel === 'sms') {
      const to = patronMobile(patron, opts.defaultCountry);
      if (to) return { ok: true, channel, to };
    } else {
      return { ok: true, channel, to: postalAddress(patron) };
    }
    reasons.push(`${channel}: ${whyNot(channel, patron)}`);
  }
  if (!allowed.includes('print')) reasons.push('print: letters not allowed by the rule');
  return { ok: false, reason: reasons.join('; ') };
}

/** Koha's transport names for the channels the sidecar has; phone and itiva have none here. */
const KOHA_TRANSPORTS: Record<string, ChannelName> = { email: 'email', sms: 'sms', print: 'print' };

/**
 * The channels a notice may use: the rule's, in the rule's order, narrowed to
 * what the patron chose in Koha (null = no choice recorded: the rule decides).
 * A letter stays possible where the rule allows it, since it needs no address.
 */
export function allowedChannels(ruleChannels: ChannelName[], patronTransports: string[] | null): ChannelName[] {
  if (patronTransports === null) return [...ruleChannels];
  const chosen = new Set(patronTransports.map((t) => KOHA_TRANSPORTS[t]).filter(Boolean));
  const out = ruleChannels.filter((c) => chosen.has(c));
  if (ruleChannels.includes('print') && !out.includes('print')) out.push('print');
  return out;
}

/**
 * Every allowed channel that can carry the notice, for rules that say "all
 * of these channels". Without any, the answer is the single-channel choice
 * with its reason, so the notice is still recorded as missing contact.
 */
export function chooseAllChannels(
  allowed: ChannelName[],
  patron: PatronContact,
  opts: Parameters<typeof chooseChannel>[2],
): ChannelChoice[] {
  const out: ChannelChoice[] = [];
  for (const channel of allowed) {
    const c = chooseChannel([channel], patron, opts);
    if (c.ok) out.push(c);
  }
  return out.length ? out : [chooseChannel(allowed, patron, opts)];
}

/**
 * The channels staff may choose for one patron's notice now ("send as", a
 * resend): those set up, for which the patron has an address that works
 * today. An e-mail address must be usable and in good standing (not waiting
 * for verification, not expired, bounced or complained about); SMS needs the
 * branch's account and a mobile number; a letter needs nothing. Offering only
 * these means a choice never ends silently without a message.
 */
export function workingChannels(
  patron: PatronContact | null,
  facts: {
    defaultCountry: string;
    /** The channels this installation has (an SMS channel only with an SMS account). */
    available: readonly ChannelName[];
    /** Whether the notice's branch has an SMS account. */
    branchSendsSms: boolean;
    /** The e-mail gate's word on the patron's notice address; absent when it is usable. */
    emailState?: string | null;
  },
): ChannelName[] {
  const out: ChannelName[] = [];
  for (const channel of facts.available) {
    if (channel === 'email') {
      if (patron && patronEmail(patron) && !facts.emailState) out.push(channel);
    } else if (channel === 'sms') {
      if (patron && facts.branchSendsSms && patronMobile(patron, facts.defaultCountry)) out.push(channel);
    } else {
      out.push(channel);
    }
  }
  return out;
}
