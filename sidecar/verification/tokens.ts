/**
 * Verification links: `<random>.<mac>`.
 *
 * - `random` is 24 bytes from the system's CSPRNG (192 bits), base64url:
 *   the link cannot be guessed.
 * - `mac` is the first 16 bytes of HMAC-SHA256(KMC_SECRET, random),
 *   base64url: a link that was not made by this sidecar (typed, tampered,
 *   truncated) is refused by a constant-time check, before any database
 *   look-up, so guessing costs the guesser and never the database.
 * - The database keeps only SHA-256 of the whole token. Who the link is for,
 *   its expiry and whether it was used live in kmc_email_verifications, so
 *   the token itself carries no patron data and a new link for the same
 *   patron replaces the old one's hash: the old link is then worthless.
 *
 * Pure: no clock, no database.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const RANDOM_BYTES = 24;
const MAC_BYTES = 16;
/** base64url of 24 bytes is 32 characters, of 16 bytes 22. */
const TOKEN_SHAPE = /^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{22})$/;

function mac(secret: string, random: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(`kmc-email-verification:${random}`, 'ascii')
    .digest()
    .subarray(0, MAC_BYTES);
}

export function createVerificationToken(secret: string): string {
  const random = randomBytes(RANDOM_BYTES).toString('base64url');
  return `${random}.${mac(secret, random).toString('base64url')}`;
}

/** True when the token has the right shape and this sidecar's signature. */
export function isSignedToken(token: string, secret: string): boolean {
  if (typeof token !== 'string' || token.length > 64) return false;
  const m = TOKEN_SHAPE.exec(token);
  if (!m) return false;
  // Compared as text: base64url has spare bits in its last character, so one
  // signature has several spellings once decoded; only the canonical one counts.
  const given = Buffer.from(m[2], 'ascii');
  const expected = Buffer.from(mac(secret, m[1]).toString('base64url'), 'ascii');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What the database keeps instead of the token: lowercase hex SHA-256. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two hex hashes in constant time (both are always 64 characters here). */
export function sameHash(a: string | null | undefined, b: string): boolean {
  if (!a || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A client address as the rate limiter stores it: an HMAC, never the address itself. */
export function clientHash(secret: string, client: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`kmc-verification-client:${client}`, 'utf8').digest('hex');
}

/** Short fingerprint of an address for idempotency keys and logs (no address in clear). */
export function addressFingerprint(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex').slice(0, 16);
}
