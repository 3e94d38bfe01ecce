/**
 * The check every address from Koha or from the settings passes before it may
 * stand in a header or in the envelope of an e-mail: the sender, the reply-to,
 * the return path, the copy address. Exactly one bare mailbox
 * (`local@domain`), nothing else: no control character (a CR/LF would start a
 * header of its own), no second address, no group, no display name, no quoted
 * local part, a domain of dotted host names within RFC 5321's lengths. An
 * international domain is kept in its ASCII form (xn--), as it goes on the wire.
 */
import { domainToASCII } from 'node:url';

/** Why an address is refused; each has a text in the staff catalogues (`address.problem.<code>`). */
export type AddressProblem =
  | 'empty'
  | 'control_character'
  | 'several_addresses'
  | 'group'
  | 'display_name'
  | 'quoted_local_part'
  | 'no_at_sign'
  | 'local_part'
  | 'domain'
  | 'domain_without_dot'
  | 'too_long';

export type AddressCheck = { ok: true; address: string } | { ok: false; problem: AddressProblem };

export interface AddressCheckOptions {
  /** A domain without a dot (`localhost`, `mailhost`): only for a test or an internal relay that wants it. */
  allowDotlessDomain?: boolean;
}

/** The same reasons in plain English, for `kmc doctor`, the logs and a message's history. */
export const ADDRESS_PROBLEM_TEXT: Record<AddressProblem, string> = {
  empty: 'it is empty',
  control_character: 'it holds a line break or another control character',
  several_addresses: 'it holds more than one address',
  group: 'it is a group of addresses',
  display_name: 'it holds a name or angle brackets besides the address',
  quoted_local_part: 'the part before @ is quoted',
  no_at_sign: 'it has no @',
  local_part: 'the part before @ has characters an address cannot have',
  domain: 'the part after @ is not a domain name',
  domain_without_dot: 'the domain has no dot',
  too_long: 'it is longer than an address may be (64 characters before @, 254 in all)',
};

/** RFC 5321 4.5.3.1: local part 64 octets, a domain 255, a whole path 256 with its angle brackets. */
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_ADDRESS = 254;

// Every control character, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function problem(p: AddressProblem): AddressCheck {
  return { ok: false, problem: p };
}

/** Reads one address; leading and trailing blanks (not line breaks) are dropped. */
export function checkAddress(value: string | null | undefined, opts: AddressCheckOptions = {}): AddressCheck {
  if (value === null || value === undefined) return problem('empty');
  if (CONTROL.test(value)) return problem('control_character');
  const text = value.trim();
  if (!text) return problem('empty');
  if (text.length > 2 * MAX_ADDRESS) return problem('too_long');
  // The shapes of header syntax that are not one bare address, most telling first.
  if (/^"[^"]*"@[^@\s"]+$/.test(text)) return problem('quoted_local_part');
  if (/:.*;\s*$/.test(text) || /^[^@"]*:/.test(text)) return problem('group');
  if (/[,;]/.test(text.replace(/"[^"]*"/g, '""'))) return problem('several_addresses');
  if ((text.match(/@/g) ?? []).length > 1 && /\s/.test(text)) return problem('several_addresses');
  if (/[<>()]/.test(text) || /\s/.test(text)) return problem('display_name');
  const at = text.lastIndexOf('@');
  if (at < 0) return problem('no_at_sign');
  const local = text.slice(0, at);
  const domainGiven = text.slice(at + 1);
  if (local.startsWith('"')) return problem('quoted_local_part');
  if (!local || !LOCAL_PART.test(local)) return problem('local_part');
  if (local.length > MAX_LOCAL) return problem('too_long');
  if (!domainGiven || domainGiven.startsWith('[')) return problem('domain');
  // An international name becomes its xn-- form; anything that cannot be one gives ''.
  const domain = domainToASCII(domainGiven.replace(/\.$/, '')).toLowerCase();
  if (!domain) return problem('domain');
  if (domain.length > MAX_DOMAIN) return problem('too_long');
  const labels = domain.split('.');
  if (!labels.every((l) => LABEL.test(l))) return problem('domain');
  if (labels.length < 2 && !opts.allowDotlessDomain) return problem('domain_without_dot');
  if (labels.length >= 2 && /^\d+$/.test(labels[labels.length - 1])) return problem('domain');
  const address = `${local}@${domain}`;
  if (address.length > MAX_ADDRESS) return problem('too_long');
  return { ok: true, address };
}

export type SenderCheck = { ok: true; address: string; name: string | null } | { ok: false; problem: AddressProblem };

/** A display name longer than this is no name a mail client shows. */
const MAX_NAME = 200;

/**
 * A sender as a library writes it: a bare address, or a name and the address in
 * angle brackets (`Centralbiblioteket <library@example.org>`). The address passes
 * the same check; the name may hold no control character, angle bracket or
 * unbalanced quote. The name goes on as a name (the mail library encodes it), so
 * nothing in it can start a header or add an address.
 */
export function checkSender(value: string | null | undefined, opts: AddressCheckOptions = {}): SenderCheck {
  const text = (value ?? '').trim();
  const named = /^([^<>]*)<([^<>]*)>$/s.exec(text);
  if (!named) {
    const bare = checkAddress(text, opts);
    return bare.ok ? { ok: true, address: bare.address, name: null } : bare;
  }
  let name = named[1].trim();
  if (CONTROL.test(name)) return { ok: false, problem: 'control_character' };
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).trim();
  if (name.includes('"') || name.length > MAX_NAME) return { ok: false, problem: 'display_name' };
  const address = checkAddress(named[2], opts);
  if (!address.ok) return address;
  return { ok: true, address: address.address, name: name || null };
}
