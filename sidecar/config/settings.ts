/**
 * Settings from the environment, read and validated once at start. Every
 * problem names the setting, so an admin can fix it without reading code.
 */
import { SettingsError } from '../errors';
import { ADDRESS_PROBLEM_TEXT, checkAddress } from '../addresses';
import { loadDeliverySettings, loadSmsSettings, onOff, type DeliverySettings, type SmsSettings } from './delivery';
import { loadDkimKeys, loadDomainLimits, type DkimKey, type SendingLimits } from './mail';

export type { DeliverySettings, SmsSettings } from './delivery';
export type { DkimKey, DomainLimit, SendingLimits } from './mail';
import { loadBounceSettings, type BounceSettings } from './bounces';
export type { BounceSettings } from './bounces';

/**
 * Installing on a live library: `koha` gives a loan already overdue before
 * the first overdue run the level Koha would send at its age, `all-levels`
 * starts it at level 1; holds already waiting before the first hold run were
 * told by Koha at check-in, so they are `skip`ped unless staff say `notify`.
 */
export interface FirstRunSettings {
  overdue: 'koha' | 'all-levels';
  holds: 'skip' | 'notify';
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Settings {
  databaseUrl: string;
  smtpUrl: string;
  smppUrl: string | null;
  port: number;
  /** Address the staff pages listen on. Loopback until sign-in exists. */
  host: string;
  publicUrl: string;
  secret: string;
  timezone: string;
  defaultCountry: string;
  logLevel: LogLevel;
  /** Used when neither the branch nor the sidecar's branch settings give a sender. */
  mailFrom: string;
  /** Where print letters are written, one file each, for staff to print. */
  printDir: string;
  /** Koha plugin class whose `__ENABLED__` row switches the sidecar on and off. */
  pluginClass: string;
  /**
   * KMC_WITHOUT_PLUGIN: the sidecar runs without the Koha plugin on purpose, so a plugin that is not
   * installed (also one uninstalled after the sidecar had seen it) does not stop it. An installed
   * plugin's toggle is still obeyed.
   */
  withoutPlugin: boolean;
  /** The SMS channel: bind mode, window, time-outs, TLS, default sender (KMC_SMPP_*, KMC_SMS_SENDER). */
  sms: SmsSettings;
  /** Retry budgets and backoff, the claim lease, the batch size (KMC_RETRY_*, KMC_DELIVERY_*). */
  delivery: DeliverySettings;
  /** DKIM keys of the sending domains (KMC_DKIM_KEYS); empty: mail goes unsigned. */
  dkim: DkimKey[];
  /** How fast messages may go out: per recipient domain, per SMTP relay, per SMS account. */
  limits: SendingLimits;
  /** Return paths, the bounce listener and mailbox, soft-bounce counting (KMC_BOUNCE_*). */
  bounces: BounceSettings;
  /** Origins of Koha's staff interface that may show the pages in a frame (CSP frame-ancestors). */
  kohaStaffOrigins: string[];
  /** Messages older than this many days are anonymised at night. */
  retentionDays: number;
  /** The local time (HH:MM, library time zone) the nightly anonymisation runs. */
  anonymiseAt: string;
  /** A staff session ends after this many idle minutes ... */
  sessionIdleMinutes: number;
  /** ... and after this many hours whatever happens. */
  sessionMaxHours: number;
  /** Which proxies in front of the pages to believe about the client's address (express "trust proxy"); false: none. */
  trustProxy: string | number | false;
  /**
   * How often a notice run renews its lease on its row in the run log. A run
   * not renewed for four of these lost its process and is marked abandoned.
   */
  runHeartbeatMs: number;
  /** What the first run of a type does with what was already there before it (KMC_FIRST_RUN_*). */
  firstRun: FirstRunSettings;
}

const DEFAULTS = {
  KMC_DATABASE_URL: 'mysql://root@127.0.0.1:3306/koha',
  KMC_SMTP_URL: 'smtp://127.0.0.1:2525',
  KMC_PORT: '8480',
  KMC_HOST: '127.0.0.1',
  KMC_TIMEZONE: 'Europe/Stockholm',
  KMC_DEFAULT_COUNTRY: 'SE',
  KMC_LOG_LEVEL: 'info',
  KMC_MAIL_FROM: 'library@example.org',
  KMC_PRINT_DIR: 'var/print',
  KMC_PLUGIN_CLASS: 'Koha::Plugin::Org::KohaMessageCenter',
} as const;

/** A fixed development secret, refused where it would matter (see below). */
const DEV_SECRET = 'kmc-development-secret-change-me';

function parseUrl(name: string, value: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(name, `"${redact(value)}" is not a URL`);
  }
  if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
    throw new SettingsError(name, `must start with ${protocols.map((p) => `${p}://`).join(' or ')}, got "${url.protocol}//"`);
  }
  if (!url.hostname) throw new SettingsError(name, 'has no host');
  return value;
}

/** Passwords never reach an error message or a log line. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const get = (name: keyof typeof DEFAULTS): string => {
    const v = env[name];
    return v === undefined || v === '' ? DEFAULTS[name] : v.trim();
  };

  const databaseUrl = parseUrl('KMC_DATABASE_URL', get('KMC_DATABASE_URL'), ['mysql', 'mariadb']);
  if (!new URL(databaseUrl).pathname.replace(/^\//, '')) {
    throw new SettingsError('KMC_DATABASE_URL', 'names no database (mysql://user:pass@host:port/koha)');
  }
  const smtpUrl = parseUrl('KMC_SMTP_URL', get('KMC_SMTP_URL'), ['smtp', 'smtps']);
  const smppRaw = env.KMC_SMPP_URL?.trim();
  const smppUrl = smppRaw ? parseUrl('KMC_SMPP_URL', smppRaw, ['smpp', 'smpps']) : null;

  const portText = get('KMC_PORT');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) {
    throw new SettingsError('KMC_PORT', `must be a port number from 0 to 65535, got "${portText}"`);
  }

  const host = get('KMC_HOST');
  const publicUrl = env.KMC_PUBLIC_URL?.trim() || `http://${host}:${port}`;
  parseUrl('KMC_PUBLIC_URL', publicUrl, ['http', 'https']);

  const timezone = get('KMC_TIMEZONE');
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw new SettingsError('KMC_TIMEZONE', `"${timezone}" is not an IANA time zone such as Europe/Stockholm`);
  }

  const defaultCountry = get('KMC_DEFAULT_COUNTRY').toUpperCase();
  if (!/^[A-Z]{2}$/.test(defaultCountry)) {
    throw new SettingsError('KMC_DEFAULT_COUNTRY', `must be a two-letter country code such as SE, got "${defaultCountry}"`);
  }

  const logLevel = get('KMC_LOG_LEVEL').toLowerCase();
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new SettingsError('KMC_LOG_LEVEL', `must be one of error, warn, info, debug, got "${logLevel}"`);
  }

  const sms = loadSmsSettings(env);
  const delivery = loadDeliverySettings(env);
  if (delivery.leaseMs < 3 * sms.pduTimeoutMs) {
    // A lease shorter than a slow send would let another worker send the message again.
    throw new SettingsError(
      'KMC_DELIVERY_LEASE_SECONDS',
      `(${delivery.leaseMs / 1000} s) must be at least three times KMC_SMPP_PDU_TIMEOUT_MS (${sms.pduTimeoutMs} ms)`,
    );
  }

  const staffPages = staffPageSettings(env);
  const secret = signingSecret(env, host, publicUrl, staffPages.trustProxy);

  const mailFromCheck = checkAddress(get('KMC_MAIL_FROM'));
  if (!mailFromCheck.ok) {
    throw new SettingsError('KMC_MAIL_FROM', `is refused as a sender address: ${ADDRESS_PROBLEM_TEXT[mailFromCheck.problem]}`);
  }
  const mailFrom = mailFromCheck.address;

  return {
    databaseUrl,
    smtpUrl,
    smppUrl,
    port,
    host,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    secret,
    timezone,
    defaultCountry,
    logLevel: logLevel as LogLevel,
    mailFrom,
    printDir: get('KMC_PRINT_DIR'),
    pluginClass: get('KMC_PLUGIN_CLASS'),
    withoutPlugin: onOff(env, 'KMC_WITHOUT_PLUGIN', false),
    sms,
    delivery,
    dkim: loadDkimKeys(env),
    limits: {
      ...loadDomainLimits(env),
      smtpPerMinute: wholeNumber(env, 'KMC_SMTP_PER_MINUTE', 0, 0, 1_000_000),
      smsPerSecond: wholeNumber(env, 'KMC_SMS_PER_SECOND', 0, 0, 10_000),
    },
    bounces: loadBounceSettings(env),
    ...staffPages,
    runHeartbeatMs: wholeNumber(env, 'KMC_RUN_HEARTBEAT_SECONDS', 30, 1, 3600) * 1000,
    firstRun: {
      overdue: oneOf(env, 'KMC_FIRST_RUN_OVERDUE', ['koha', 'all-levels'] as const, 'koha'),
      holds: oneOf(env, 'KMC_FIRST_RUN_HOLDS', ['skip', 'notify'] as const, 'skip'),
    },
  };
}

/** One of a few words, or the default when unset. */
function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, words: readonly T[], fallback: T): T {
  const v = env[name]?.trim().toLowerCase() ?? '';
  if (v === '') return fallback;
  if (!(words as readonly string[]).includes(v)) throw new SettingsError(name, `must be ${words.join(' or ')}, got "${v}"`);
  return v as T;
}

/** The least a signing key may have: 256 bits, the size of the HMAC-SHA256 output it keys. */
export const SECRET_MIN_BYTES = 32;

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The secret that signs launch tokens and verification links. The public
 * development secret is accepted only where nobody but this machine can
 * reach the pages: listening on loopback, a plain http public URL on
 * loopback, and no proxy trusted (a proxy means the pages are reachable from
 * elsewhere, whatever the sidecar itself listens on).
 */
function signingSecret(env: NodeJS.ProcessEnv, host: string, publicUrl: string, trustProxy: string | number | false): string {
  const own = env.KMC_SECRET?.trim() ?? '';
  if (own && own !== DEV_SECRET) {
    const bytes = Buffer.byteLength(own, 'utf8');
    if (bytes < SECRET_MIN_BYTES) {
      throw new SettingsError(
        'KMC_SECRET',
        `must be at least ${SECRET_MIN_BYTES} bytes long, got ${bytes} (openssl rand -base64 33 makes one)`,
      );
    }
    return own;
  }
  const url = new URL(publicUrl);
  const why = !isLoopbackHost(host)
    ? `the pages listen beyond loopback (KMC_HOST=${host})`
    : url.protocol !== 'http:' || !isLoopbackHost(url.hostname)
      ? `the pages are reached at ${url.origin} (KMC_PUBLIC_URL)`
      : trustProxy !== false
        ? 'a reverse proxy is trusted (KMC_TRUST_PROXY)'
        : null;
  if (why) {
    throw new SettingsError(
      'KMC_SECRET',
      `must be set to a secret of your own, at least ${SECRET_MIN_BYTES} bytes long, because ${why}; the development secret is public`,
    );
  }
  return DEV_SECRET;
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name]?.trim() || String(fallback);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new SettingsError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

/** Settings of the staff pages: framing by Koha, sessions, and the archive's retention. */
function staffPageSettings(
  env: NodeJS.ProcessEnv,
): Pick<Settings, 'kohaStaffOrigins' | 'retentionDays' | 'anonymiseAt' | 'sessionIdleMinutes' | 'sessionMaxHours' | 'trustProxy'> {
  const kohaStaffOrigins: string[] = [];
  for (const part of (env.KMC_KOHA_STAFF_ORIGIN ?? '').split(/[\s,]+/).filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new SettingsError('KMC_KOHA_STAFF_ORIGIN', `"${part}" is not an origin such as https://staff.library.example`);
    }
    if (
      !['http:', 'https:'].includes(url.protocol) ||
      url.pathname !== '/' ||
      url.search ||
      url.hash ||
      url.username ||
      part.replace(/\/$/, '').endsWith('/')
    ) {
      throw new SettingsError('KMC_KOHA_STAFF_ORIGIN', `"${part}" must be a scheme and host only, such as https://staff.library.example`);
    }
    kohaStaffOrigins.push(url.origin);
  }
  const anonymiseAt = env.KMC_ANONYMISE_AT?.trim() || '03:30';
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(anonymiseAt))
    throw new SettingsError('KMC_ANONYMISE_AT', `must be a time HH:MM, got "${anonymiseAt}"`);
  const sessionIdleMinutes = wholeNumber(env, 'KMC_SESSION_IDLE_MINUTES', 60, 1, 24 * 60);
  const sessionMaxHours = wholeNumber(env, 'KMC_SESSION_MAX_HOURS', 12, 1, 24 * 7);
  if (sessionIdleMinutes > sessionMaxHours * 60) {
    throw new SettingsError('KMC_SESSION_IDLE_MINUTES', `must not be longer than KMC_SESSION_MAX_HOURS (${sessionMaxHours} h)`);
  }
  // Behind a reverse proxy every client would share the proxy's address (and its sign-in limit) unless it is trusted.
  const proxyText = env.KMC_TRUST_PROXY?.trim() ?? '';
  let trustProxy: string | number | false = false;
  if (/^\d{1,2}$/.test(proxyText)) trustProxy = Number(proxyText);
  else if (
    /^(loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(\/\d{1,3})?)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(\/\d{1,3})?))*$/.test(
      proxyText,
    )
  )
    trustProxy = proxyText;
  else if (proxyText) {
    throw new SettingsError(
      'KMC_TRUST_PROXY',
      `must be a number of proxies, loopback, or the proxies' addresses (CIDR allowed), got "${proxyText}"`,
    );
  }
  return {
    kohaStaffOrigins,
    trustProxy,
    retentionDays: wholeNumber(env, 'KMC_RETENTION_DAYS', 365, 1, 36500),
    anonymiseAt,
    sessionIdleMinutes,
    sessionMaxHours,
  };
}
