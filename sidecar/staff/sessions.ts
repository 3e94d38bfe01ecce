/**
 * Server-side staff sessions. The cookie carries 32 random bytes; the
 * database keeps their SHA-256 with who signed in, the session's CSRF token,
 * and its two deadlines: an idle one that moves with each request and an
 * absolute one that never moves.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { fromDbTime, isDuplicateKey, toDbTime } from '../db';
import type { Clock } from '../kernel';

export interface Session {
  idHash: string;
  borrowernumber: number;
  csrfToken: string;
  lang: string | null;
  via: 'launch' | 'password';
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

interface SessionRow {
  id_hash: string;
  borrowernumber: number;
  csrf_token: string;
  lang: string | null;
  via: string;
  ip: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

interface NonceRow {
  nonce: string;
  borrowernumber: number;
  expires_at: string;
  used_at: string;
}

interface SigninFailureRow {
  at: string;
  ip: string | null;
  userid: string | null;
  borrowernumber: number | null;
}

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
/** last_seen_at is written at most this often, so a busy page does not write on every request. */
const TOUCH_EVERY_MS = 30_000;

export function hashSessionId(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export class SessionStore {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly limits: { idleMinutes: number; maxHours: number },
  ) {}

  /** Starts a session; the returned cookie value is shown to no one but the browser. */
  async create(args: {
    borrowernumber: number;
    via: Session['via'];
    lang: string | null;
    ip: string | null;
  }): Promise<{ cookieValue: string; session: Session }> {
    // Sessions nobody came back to are cleared here, so the table stays small without a timer.
    await this.purge();
    const now = this.clock.now();
    const cookieValue = randomBytes(32).toString('base64url');
    const session: Session = {
      idHash: hashSessionId(cookieValue),
      borrowernumber: args.borrowernumber,
      csrfToken: randomBytes(32).toString('hex'),
      lang: args.lang,
      via: args.via,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.limits.maxHours * 3_600_000),
    };
    await this.knex<SessionRow>('kmc_sessions').insert({
      id_hash: session.idHash,
      borrowernumber: session.borrowernumber,
      csrf_token: session.csrfToken,
      lang: session.lang,
      via: session.via,
      ip: args.ip?.slice(0, 45) ?? null,
      created_at: toDbTime(now),
      last_seen_at: toDbTime(now),
      expires_at: toDbTime(session.expiresAt),
    });
    return { cookieValue, session };
  }

  /** The live session a cookie names, or null when it is unknown, idle too long or past its end. */
  async load(cookieValue: unknown): Promise<Session | null> {
    if (typeof cookieValue !== 'string' || !COOKIE_VALUE.test(cookieValue)) return null;
    const idHash = hashSessionId(cookieValue);
    const row = await this.knex<SessionRow>('kmc_sessions').where({ id_hash: idHash }).first();
    const createdAt = fromDbTime(row?.created_at ?? null);
    const lastSeenAt = fromDbTime(row?.last_seen_at ?? null);
    const expiresAt = fromDbTime(row?.expires_at ?? null);
    if (!row || !createdAt || !lastSeenAt || !expiresAt) return null;
    const now = this.clock.now();
    const session: Session = {
      idHash,
      borrowernumber: row.borrowernumber,
      csrfToken: row.csrf_token,
      lang: row.lang,
      via: row.via === 'launch' ? 'launch' : 'password',
      createdAt,
      lastSeenAt,
      expiresAt,
    };
    const idleUntil = session.lastSeenAt.getTime() + this.limits.idleMinutes * 60_000;
    if (now.getTime() >= session.expiresAt.getTime() || now.getTime() >= idleUntil) {
      await this.knex<SessionRow>('kmc_sessions').where({ id_hash: idHash }).delete();
      return null;
    }
    if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
      await this.knex<SessionRow>('kmc_sessions')
        .where({ id_hash: idHash })
        .update({ last_seen_at: toDbTime(now) });
      session.lastSeenAt = now;
    }
    return session;
  }

  async destroy(idHash: string): Promise<void> {
    await this.knex<SessionRow>('kmc_sessions').where({ id_hash: idHash }).delete();
  }

  async setLang(idHash: string, lang: string): Promise<void> {
    await this.knex<SessionRow>('kmc_sessions').where({ id_hash: idHash }).update({ lang });
  }

  /** Removes sessions past either deadline; returns how many. */
  async purge(): Promise<number> {
    const now = this.clock.now();
    const idleSince = new Date(now.getTime() - this.limits.idleMinutes * 60_000);
    return this.knex<SessionRow>('kmc_sessions')
      .where('expires_at', '<=', toDbTime(now))
      .orWhere('last_seen_at', '<=', toDbTime(idleSince))
      .delete();
  }
}

/**
 * Launch tokens are single use. The nonce is stored until the token would
 * have expired anyway; a second use finds it there and is refused, whichever
 * sidecar the first one reached.
 */
export class NonceStore {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {}

  /** True the first time a nonce is used, false ever after. */
  async consume(nonce: string, borrowernumber: number, expiresSeconds: number): Promise<boolean> {
    const now = this.clock.now();
    await this.knex<NonceRow>('kmc_launch_nonces')
      .where('expires_at', '<', toDbTime(new Date(now.getTime() - 60_000)))
      .delete();
    try {
      await this.knex<NonceRow>('kmc_launch_nonces').insert({
        nonce,
        borrowernumber,
        expires_at: toDbTime(new Date(expiresSeconds * 1000)),
        used_at: toDbTime(now),
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }
}

/**
 * Who a sign-in names: the staff member the typed name (user name or card
 * number) belongs to, or only the typed name when it belongs to no one.
 */
export interface SigninName {
  typed: string;
  borrowernumber: number | null;
}

/**
 * Slows down password guessing: after a number of failures within a window,
 * from one address or for one staff member, sign-in is refused until the
 * window has passed. A staff member is counted by borrowernumber, so their
 * user name and card number share one count; a name that belongs to no one is
 * counted as typed. Kept in the database so restarts and other sidecars count too.
 */
export class SigninThrottle {
  static readonly WINDOW_MS = 15 * 60_000;
  static readonly MAX_PER_USER = 5;
  static readonly MAX_PER_ADDRESS = 20;

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {}

  async blocked(ip: string | null, name: SigninName): Promise<boolean> {
    const since = toDbTime(new Date(this.clock.now().getTime() - SigninThrottle.WINDOW_MS));
    const count = async (column: 'ip' | 'userid' | 'borrowernumber', value: string | number) => {
      const rows = await this.knex<SigninFailureRow>('kmc_signin_failures')
        .where(column, value)
        .where('at', '>', since)
        .count<Array<{ n: number | string }>>({ n: '*' });
      return Number(rows[0]?.n ?? 0);
    };
    const typed = name.typed.slice(0, 75);
    const forPerson =
      name.borrowernumber !== null ? await count('borrowernumber', name.borrowernumber) : typed ? await count('userid', typed) : 0;
    if (forPerson >= SigninThrottle.MAX_PER_USER) return true;
    if (ip && (await count('ip', ip.slice(0, 45))) >= SigninThrottle.MAX_PER_ADDRESS) return true;
    return false;
  }

  async failed(ip: string | null, name: SigninName): Promise<void> {
    const now = this.clock.now();
    await this.knex<SigninFailureRow>('kmc_signin_failures').insert({
      at: toDbTime(now),
      ip: ip?.slice(0, 45) ?? null,
      userid: name.typed.slice(0, 75) || null,
      borrowernumber: name.borrowernumber,
    });
    // Old failures are of no use any more.
    await this.knex<SigninFailureRow>('kmc_signin_failures')
      .where('at', '<', toDbTime(new Date(now.getTime() - 2 * SigninThrottle.WINDOW_MS)))
      .delete();
  }

  /** A staff member signed in: their failures, under any name they used, are forgotten. */
  async succeeded(borrowernumber: number): Promise<void> {
    await this.knex<SigninFailureRow>('kmc_signin_failures').where({ borrowernumber }).delete();
  }
}
