/**
 * Settings of outgoing mail that providers look at: the DKIM keys that sign
 * each sending domain's notices, and the limits on how fast mail goes out
 * (per recipient domain, per relay) and SMS (per account). Read and checked
 * once with the rest; every problem names the setting.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SettingsError } from '../errors';

/** One sending domain's DKIM key (RSA; the signature is rsa-sha256). */
export interface DkimKey {
  /** The domain that signs (d=): the sender's domain or one it belongs to. */
  domain: string;
  /** The selector (s=): the key is published at SELECTOR._domainkey.DOMAIN. */
  selector: string;
  /** The file the key was read from (shown by kmc doctor; the key itself never is). */
  file: string;
  /** The private key, PEM. */
  privateKey: string;
  /** The public key as DNS publishes it: base64 of its SubjectPublicKeyInfo (the p= tag). */
  publicKeyBase64: string;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SELECTOR = /^[a-z0-9]([a-z0-9-_]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-_]{0,61}[a-z0-9])?)*$/i;

/**
 * KMC_DKIM_KEYS: one entry per sending domain, separated by commas or new
 * lines, each `DOMAIN:SELECTOR:KEYFILE` (the key file a PEM RSA private key,
 * e.g. made with `openssl genrsa -out library.pem 2048`).
 */
export function loadDkimKeys(env: NodeJS.ProcessEnv): DkimKey[] {
  const name = 'KMC_DKIM_KEYS';
  const text = env[name]?.trim() ?? '';
  const keys: DkimKey[] = [];
  for (const entry of text
    .split(/[,\n]+/)
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [domainText, selector, ...fileParts] = entry.split(':');
    const file = fileParts.join(':').trim();
    const domain = domainText.trim().toLowerCase().replace(/\.$/, '');
    if (!file || !selector)
      throw new SettingsError(name, `"${entry}" must be DOMAIN:SELECTOR:KEYFILE, e.g. library.example.org:kmc1:/etc/kmc/dkim.pem`);
    if (!DOMAIN.test(domain)) throw new SettingsError(name, `"${domainText}" is not a domain name`);
    if (!SELECTOR.test(selector.trim())) throw new SettingsError(name, `"${selector}" is not a DKIM selector (letters, digits, - and _)`);
    if (keys.some((k) => k.domain === domain)) throw new SettingsError(name, `names the domain ${domain} twice`);
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SettingsError(name, `cannot read the key file ${file} of ${domain}: ${(err as Error).message}`);
    }
    let publicKeyBase64: string;
    try {
      const key = createPrivateKey(pem);
      if (key.asymmetricKeyType !== 'rsa') {
        throw new SettingsError(
          name,
          `the key file ${file} of ${domain} holds a ${key.asymmetricKeyType ?? 'non-RSA'} key; DKIM here signs with RSA`,
        );
      }
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 1024) throw new SettingsError(name, `the key in ${file} of ${domain} has ${bits} bits; at least 1024 (2048 advised)`);
      publicKeyBase64 = createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
    } catch (err) {
      if (err instanceof SettingsError) throw err;
      throw new SettingsError(name, `the key file ${file} of ${domain} holds no usable private key (PEM): ${(err as Error).message}`);
    }
    keys.push({ domain, selector: selector.trim(), file, privateKey: pem, publicKeyBase64 });
  }
  return keys;
}

/**
 * A DKIM key from its parts (a branch's settings): the same checks as KMC_DKIM_KEYS, said as a problem in
 * words (null key) rather than thrown, so one branch's bad key does not stop another's mail.
 */
export function dkimKeyOf(
  domainText: string,
  selector: string,
  pem: string,
  source: string,
): { key: DkimKey; problem: null } | { key: null; problem: string } {
  const domain = domainText.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) return { key: null, problem: `"${domainText}" is not a domain name` };
  if (!SELECTOR.test(selector.trim())) return { key: null, problem: `"${selector}" is not a DKIM selector (letters, digits, - and _)` };
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa')
      return { key: null, problem: `it is a ${key.asymmetricKeyType ?? 'non-RSA'} key; DKIM here signs with RSA` };
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 1024) return { key: null, problem: `the key has ${String(bits)} bits; at least 1024 (2048 advised)` };
    const publicKeyBase64 = createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
    return { key: { domain, selector: selector.trim(), file: source, privateKey: pem, publicKeyBase64 }, problem: null };
  } catch (err) {
    return { key: null, problem: `no usable private key (PEM): ${(err as Error).message}` };
  }
}

/** The TXT record to publish at SELECTOR._domainkey.DOMAIN for a key. */
export function dkimRecordText(key: Pick<DkimKey, 'publicKeyBase64'>): string {
  return `v=DKIM1; k=rsa; p=${key.publicKeyBase64}`;
}

/** The domain of an e-mail address (also in the form `Name <address>`), lower case; null when it has none. */
export function domainOfAddress(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  const domain = address
    .slice(at + 1)
    .replace(/>.*$/, '')
    .trim()
    .toLowerCase();
  return domain || null;
}

/** The key that signs mail from this address: its domain's, else the nearest parent domain's; null: none. */
export function dkimKeyFor(keys: readonly DkimKey[], fromAddress: string): DkimKey | null {
  let domain = domainOfAddress(fromAddress) ?? '';
  while (domain.includes('.')) {
    const key = keys.find((k) => k.domain === domain);
    if (key) return key;
    domain = domain.slice(domain.indexOf('.') + 1);
  }
  return null;
}

/** One limit of Koha's message_domain_limits: at most `limit` messages to the domain within `windowMs`. */
export interface DomainLimit {
  domain: string;
  limit: number;
  /** As written, e.g. 60m, 1h, 1d. */
  unit: string;
  windowMs: number;
}

/** How fast messages may go out. 0: no limit. */
export interface SendingLimits {
  /** Per recipient domain, in the shape of Koha's message_domain_limits (KMC_MESSAGE_DOMAIN_LIMITS). */
  domains: DomainLimit[];
  /** Domains counted with another (belongs_to): domain -> the domain whose limit they share. */
  belongsTo: Record<string, string>;
  /** E-mail per minute through the SMTP relay (KMC_SMTP_PER_MINUTE). */
  smtpPerMinute: number;
  /** SMS per second per SMS account (KMC_SMS_PER_SECOND). */
  smsPerSecond: number;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

function xmlField(block: string, tag: string): string | null {
  const found = new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`, 'i').exec(block);
  return found ? found[1] : null;
}

/**
 * KMC_MESSAGE_DOMAIN_LIMITS: Koha's `<message_domain_limits>` element as
 * koha-conf.xml has it, pasted in, or the path of a file holding it (such as
 * koha-conf.xml itself). Each `<domain>` has a `<name>` and either `<limit>`
 * with `<unit>` (a number and m, h or d: 60m, 1h, 1d) or `<belongs_to>`
 * naming a domain whose count it shares.
 */
export function loadDomainLimits(env: NodeJS.ProcessEnv): Pick<SendingLimits, 'domains' | 'belongsTo'> {
  const name = 'KMC_MESSAGE_DOMAIN_LIMITS';
  let text = env[name]?.trim() ?? '';
  if (!text) return { domains: [], belongsTo: {} };
  if (!text.startsWith('<')) {
    try {
      text = readFileSync(text, 'utf8');
    } catch (err) {
      throw new SettingsError(name, `is neither <message_domain_limits> nor a readable file: ${(err as Error).message}`);
    }
  }
  const outer = /<message_domain_limits>([\s\S]*?)<\/message_domain_limits>/i.exec(text.replace(/<!--[\s\S]*?-->/g, ''));
  if (!outer) throw new SettingsError(name, 'holds no <message_domain_limits> element');
  const domains: DomainLimit[] = [];
  const belongsTo: Record<string, string> = {};
  const blocks = [...outer[1].matchAll(/<domain>([\s\S]*?)<\/domain>/gi)].map((m) => m[1]);
  if (outer[1].trim() && !blocks.length) throw new SettingsError(name, '<message_domain_limits> holds no <domain> element');
  for (const block of blocks) {
    const domain = (xmlField(block, 'name') ?? '').toLowerCase();
    if (!DOMAIN.test(domain)) throw new SettingsError(name, `a <domain> has no valid <name> ("${domain}")`);
    if (domains.some((d) => d.domain === domain) || domain in belongsTo) throw new SettingsError(name, `names the domain ${domain} twice`);
    const parent = xmlField(block, 'belongs_to');
    if (parent !== null) {
      belongsTo[domain] = parent.toLowerCase();
      continue;
    }
    const limitText = xmlField(block, 'limit') ?? '';
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1) {
      throw new SettingsError(name, `the <limit> of ${domain} must be a whole number of at least 1, got "${limitText}"`);
    }
    const unit = (xmlField(block, 'unit') ?? '').toLowerCase();
    const u = /^(\d+)([mhd])$/.exec(unit);
    if (!u || Number(u[1]) < 1)
      throw new SettingsError(name, `the <unit> of ${domain} must be a number and m, h or d (60m, 1h, 1d), got "${unit}"`);
    domains.push({ domain, limit: Number(limitText), unit, windowMs: Number(u[1]) * UNIT_MS[u[2]] });
  }
  for (const [domain, parent] of Object.entries(belongsTo)) {
    if (!domains.some((d) => d.domain === parent)) {
      throw new SettingsError(name, `${domain} belongs to ${parent}, which has no <limit> of its own`);
    }
  }
  return { domains, belongsTo };
}
