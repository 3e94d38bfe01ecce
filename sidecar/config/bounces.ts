/**
 * Settings of bounce handling: where returned mail goes (the bounce domain),
 * how it reaches the sidecar (the listener, the IMAP mailbox; each off when
 * unset), and when soft bounces make an address undeliverable.
 */
import { SettingsError } from '../errors';

export interface BounceSettings {
  /** The domain whose mail comes to the sidecar; null: return paths are plus-tags on the branch's sender address. */
  domain: string | null;
  /** The SMTP listener for the bounce domain (KMC_BOUNCE_LISTEN=host:port); null: off. */
  listen: { host: string; port: number } | null;
  /** Larger returned messages are refused (listener) or left alone (mailbox). */
  maxBytes: number;
  /** The bounce mailbox (KMC_BOUNCE_IMAP_URL=imap[s]://user:password@host:port/folder); null: off. */
  imap: {
    host: string;
    port: number;
    secure: boolean;
    user: string;
    password: string;
    mailbox: string;
    /** Where bounce-related mail is moved; null: marked read with a keyword and left in place. */
    processedMailbox: string | null;
    everyMs: number;
  } | null;
  /** Soft bounces within the window that make an address undeliverable. */
  softCount: number;
  softWindowDays: number;
}

type Env = NodeJS.ProcessEnv;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function whole(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = value(env, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new SettingsError(name, `must be a whole number from ${String(min)} to ${String(max)}, got "${text}"`);
  return Number(text);
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function loadBounceSettings(env: Env): BounceSettings {
  const domainText = value(env, 'KMC_BOUNCE_DOMAIN')?.toLowerCase();
  if (domainText !== undefined && !DOMAIN.test(domainText))
    throw new SettingsError('KMC_BOUNCE_DOMAIN', `"${domainText}" is not a mail domain such as bounce.library.example`);
  const domain = domainText ?? null;

  let listen: BounceSettings['listen'] = null;
  const listenText = value(env, 'KMC_BOUNCE_LISTEN');
  if (listenText !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(listenText);
    if (!m || Number(m[2]) > 65535)
      throw new SettingsError('KMC_BOUNCE_LISTEN', `must be host:port such as 0.0.0.0:2526, got "${listenText}"`);
    if (!domain)
      throw new SettingsError('KMC_BOUNCE_LISTEN', 'needs KMC_BOUNCE_DOMAIN: the listener takes mail only for the bounce domain');
    listen = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }

  let imap: BounceSettings['imap'] = null;
  const imapText = value(env, 'KMC_BOUNCE_IMAP_URL');
  if (imapText !== undefined) {
    let url: URL;
    try {
      url = new URL(imapText);
    } catch {
      throw new SettingsError('KMC_BOUNCE_IMAP_URL', 'is not a URL (imaps://user:password@host:993/INBOX)');
    }
    if (url.protocol !== 'imap:' && url.protocol !== 'imaps:')
      throw new SettingsError('KMC_BOUNCE_IMAP_URL', `must start with imap:// or imaps://, got "${url.protocol}//"`);
    if (!url.hostname || !url.username) throw new SettingsError('KMC_BOUNCE_IMAP_URL', 'needs a host and a user name');
    const secure = url.protocol === 'imaps:';
    imap = {
      host: url.hostname,
      port: Number(url.port || (secure ? 993 : 143)),
      secure,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      mailbox: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'INBOX',
      processedMailbox: value(env, 'KMC_BOUNCE_IMAP_PROCESSED') ?? null,
      everyMs: whole(env, 'KMC_BOUNCE_POLL_SECONDS', 300, 10, 86400) * 1000,
    };
  }

  return {
    domain,
    listen,
    maxBytes: whole(env, 'KMC_BOUNCE_MAX_BYTES', 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    imap,
    softCount: whole(env, 'KMC_BOUNCE_SOFT_COUNT', 3, 1, 100),
    softWindowDays: whole(env, 'KMC_BOUNCE_SOFT_DAYS', 30, 1, 365),
  };
}
