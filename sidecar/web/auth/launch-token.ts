/**
 * The launch token: how the Koha plugin tells the sidecar which staff member
 * opened a page, without the sidecar ever reading Koha's session store.
 *
 *   v1.<borrowernumber>.<expires>.<nonce>.<signature>
 *
 * `signature` is the lowercase hex HMAC-SHA256, keyed with KMC_SECRET (UTF-8),
 * of the ASCII text before the last dot. The Perl side makes the same string
 * (plugin-manifest/koha-plugin/Koha/Plugin/Org/KohaMessageCenter/LaunchToken.pm).
 *
 * Pure: no clock, no database. Single use (the nonce store) lives elsewhere,
 * so several sidecars can share it through a kmc_ table.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { KmcError } from '../../errors';

/** What the plugin gives a token to live: long enough for an iframe to load. */
export const LAUNCH_TOKEN_LIFETIME_SECONDS = 120;
/** The furthest ahead an `expires` may lie; more means a wrong clock or a forged lifetime. */
export const LAUNCH_TOKEN_MAX_AHEAD_SECONDS = 300;

export type LaunchTokenRefusal = 'format' | 'signature' | 'expired' | 'too_far_ahead';

export type LaunchTokenCheck =
  { ok: true; borrowernumber: number; expires: number; nonce: string } | { ok: false; reason: LaunchTokenRefusal };

// Canonical decimals only (no sign, no leading zeros), so one token has one spelling.
// borrowernumber is Koha's int(11); expires stays well inside a safe integer.
const TOKEN_SHAPE = /^v1\.([1-9][0-9]{0,9})\.([1-9][0-9]{0,11})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;
const NONCE_SHAPE = /^[0-9a-f]{32}$/;
// Longest well-formed token: 2+1+10+1+12+1+32+1+64.
const MAX_TOKEN_LENGTH = 124;

/** Thrown when the sidecar itself calls sign/verify wrongly: a bug, never a visitor's fault. */
export class LaunchTokenInputError extends KmcError {
  constructor(message: string) {
    super('KMC_LAUNCH_TOKEN_INPUT', message);
    this.name = 'LaunchTokenInputError';
  }
}

function requireSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length === 0) throw new LaunchTokenInputError('the launch token secret is empty');
}

function requireSeconds(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new LaunchTokenInputError(`${name} must be a Unix time in seconds, got ${String(value)}`);
  }
  return Math.floor(value);
}

function signature(secret: string, payload: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(payload, 'ascii').digest('hex');
}

/**
 * Makes a token for a staff member, valid LAUNCH_TOKEN_LIFETIME_SECONDS from
 * `nowSeconds`. The sidecar needs this only in tests and tools; in production
 * the Koha plugin signs.
 */
export function signLaunchToken(secret: string, borrowernumber: number, nowSeconds: number, nonceHex?: string): string {
  requireSecret(secret);
  if (!Number.isSafeInteger(borrowernumber) || borrowernumber < 1 || borrowernumber > 9_999_999_999) {
    throw new LaunchTokenInputError(`borrowernumber must be a positive whole number, got ${String(borrowernumber)}`);
  }
  const now = requireSeconds('nowSeconds', nowSeconds);
  const nonce = nonceHex ?? randomBytes(16).toString('hex');
  if (!NONCE_SHAPE.test(nonce)) throw new LaunchTokenInputError('the nonce must be 32 lowercase hex characters');
  const payload = `v1.${borrowernumber}.${now + LAUNCH_TOKEN_LIFETIME_SECONDS}.${nonce}`;
  return `${payload}.${signature(secret, payload)}`;
}

/**
 * Checks a token as it arrived. The order matters: the shape first (cheap),
 * then the signature (so an unsigned token learns nothing about our clock),
 * then the time window.
 */
export function verifyLaunchToken(secret: string, token: string, nowSeconds: number): LaunchTokenCheck {
  requireSecret(secret);
  const now = requireSeconds('nowSeconds', nowSeconds);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'format' };
  const m = TOKEN_SHAPE.exec(token);
  if (!m) return { ok: false, reason: 'format' };
  const [, borrower, expiresText, nonce, given] = m;
  const payload = token.slice(0, token.length - given.length - 1);
  const expected = Buffer.from(signature(secret, payload), 'ascii');
  // Both are 64 hex characters here (the shape says so), as timingSafeEqual needs.
  if (!timingSafeEqual(expected, Buffer.from(given, 'ascii'))) return { ok: false, reason: 'signature' };
  const expires = Number(expiresText);
  if (expires <= now) return { ok: false, reason: 'expired' };
  if (expires - now > LAUNCH_TOKEN_MAX_AHEAD_SECONDS) return { ok: false, reason: 'too_far_ahead' };
  return { ok: true, borrowernumber: Number(borrower), expires, nonce };
}

/**
 * The `next` a launch may go to: a path on the sidecar itself. Anything with
 * a scheme, a host (`//`), a backslash (browsers read it as `/`) or control
 * characters becomes `/`, so a launch link can never send staff elsewhere.
 */
export function safeNextPath(next: unknown): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2000) return '/';
  if (!next.startsWith('/') || next.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses in a path
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  return next;
}
