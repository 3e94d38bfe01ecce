/**
 * The VERP return path: each e-mail notice goes out with an envelope sender of
 * its own, so a bounce names its message even when the report itself is
 * malformed. The tag carries the message id and a short signature, so nobody
 * can fail another patron's notice by sending a bounce with a made-up tag.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KmcError, SettingsError } from '../errors';
import { checkSender } from '../addresses';

/** How many base32 characters of the HMAC the tag keeps: 40 bits, enough that guessing one is hopeless. */
const SIGNATURE_LENGTH = 8;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Kept apart from any other use of the same secret. */
const PURPOSE = 'kmc-verp:';
/** Without a bounce domain, the tag goes after "+" on the sender's own address and starts with this word. */
const SENDER_TAG_PREFIX = 'bounce-';
/** With a bounce domain, the return path's local part. */
const BOUNCE_LOCAL_PART = 'bounce';

/** `<id>.<signature>`, or `bounce-<id>.<signature>`; anything before a last "+" belongs to the sender's own tag. */
const TAG = /^(?:.*\+)?(?:bounce-)?(\d{1,15})\.([a-z2-7]{8})$/;

export interface VerpOptions {
  /** The secret the signature is made with (a setting); changing it makes the tags of mail already sent unreadable. */
  secret: string;
  /** The domain whose mail comes to the sidecar (its listener or its mailbox); empty means none. */
  bounceDomain?: string;
  /** The branch's sender address, used when there is no bounce domain. */
  senderAddress: string;
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

function signature(messageId: number, secret: string): string {
  const mac = createHmac('sha256', secret)
    .update(`${PURPOSE}${String(messageId)}`)
    .digest();
  return base32(mac.subarray(0, 5)).slice(0, SIGNATURE_LENGTH);
}

function checkSecret(secret: string): void {
  if (!secret) throw new SettingsError('bounce secret', 'is empty: a return path needs a secret to sign its tag with');
}

/** The return path (envelope sender) for one e-mail notice. */
export function verpReturnPath(messageId: number, opts: VerpOptions): string {
  if (!Number.isSafeInteger(messageId) || messageId < 1) throw new KmcError('KMC_INTERNAL', `not a message id: ${String(messageId)}`);
  checkSecret(opts.secret);
  const tag = `${String(messageId)}.${signature(messageId, opts.secret)}`;
  const domain = opts.bounceDomain?.trim().toLowerCase();
  if (domain) return `${BOUNCE_LOCAL_PART}+${tag}@${domain}`;
  const at = opts.senderAddress.lastIndexOf('@');
  if (at < 1 || at === opts.senderAddress.length - 1)
    throw new SettingsError('sender address', `"${opts.senderAddress}" is no e-mail address to put a return path on`);
  return `${opts.senderAddress.slice(0, at)}+${SENDER_TAG_PREFIX}${tag}@${opts.senderAddress.slice(at + 1).toLowerCase()}`;
}

/**
 * The message a VERP tag (the part after "+", as the classifier gives it) names, if its signature is right.
 * A forged, altered or foreign tag gives null. Several secrets may be given while one is being replaced.
 */
export function readVerpTag(tag: string | null | undefined, secret: string | readonly string[]): { messageId: number } | null {
  if (!tag) return null;
  const m = TAG.exec(tag.trim().toLowerCase());
  if (!m) return null;
  const messageId = Number(m[1]);
  if (!Number.isSafeInteger(messageId) || messageId < 1) return null;
  const given = Buffer.from(m[2]);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let valid = false;
  // Every secret is tried, so the time taken does not say which one matched.
  for (const s of secrets) {
    if (!s) continue;
    if (timingSafeEqual(given, Buffer.from(signature(messageId, s)))) valid = true;
  }
  return valid ? { messageId } : null;
}

/**
 * The return path of an e-mail notice about to go out, from its message id and its sender (an address, or
 * `Name <address>`); null when it is no stored notice or the sender is no address to tag (then the envelope sender
 * is the header From).
 */
export function returnPathFor(message: { id: number; from: string }, opts: Omit<VerpOptions, 'senderAddress'>): string | null {
  // Id 0 is no stored notice (the settings page's test e-mail): nothing to come back to.
  if (!Number.isSafeInteger(message.id) || message.id < 1) return null;
  // The sender is read as the SMTP adapter reads it, so the tag goes on the very address the header From carries.
  const sender = checkSender(message.from);
  if (!opts.bounceDomain && !sender.ok) return null;
  return verpReturnPath(message.id, { ...opts, senderAddress: sender.ok ? sender.address : '' });
}
