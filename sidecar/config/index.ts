/**
 * Settings from the environment, read and validated once at start. Every
 * problem names the setting, so an admin can fix it without reading code.
 */
import { SettingsError } from '../errors';

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

  const secret = env.KMC_SECRET?.trim() || DEV_SECRET;
  if (secret.length < 16) throw new SettingsError('KMC_SECRET', 'must be at least 16 characters long');
  if (secret === DEV_SECRET && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    throw new SettingsError('KMC_SECRET', 'must be set to a secret of your own when the pages listen beyond loopback');
  }

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

  const mailFrom = get('KMC_MAIL_FROM');
  if (!/^[^\s@]+@[^\s@]+$/.test(mailFrom)) {
    throw new SettingsError('KMC_MAIL_FROM', `"${mailFrom}" is not an e-mail address`);
  }

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
  };
}
