/**
 * Settings of the delivery pipeline and the SMS channel, read and checked
 * once with the rest (see index.ts). Every problem names the setting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SettingsError } from '../errors';
import { readSmsSender } from '../kernel';

export type SmppBindMode = 'transceiver' | 'transmitter' | 'transmitter+receiver';

export interface SmsSettings {
  /** One transceiver session, or a transmitter plus a receiver (receipts come on the receiver). */
  bindMode: SmppBindMode;
  /** submit_sm in flight at once per SMS account. */
  windowSize: number;
  /** How long to wait for the SMSC's answer to one PDU. */
  pduTimeoutMs: number;
  /** Keep-alive interval; 0 turns it off. */
  enquireLinkMs: number;
  /** TLS even with an smpp:// URL (smpps:// always uses it); certificates are always checked. */
  tls: boolean;
  /** CA certificate file (PEM) to trust for the SMSC, besides the system's. */
  caFile: string | null;
  /** Sender when the branch names none; null lets the SMSC use the account's own. */
  sender: string | null;
  /**
   * How long `kmc deliver --once` stays bound after sending to take delivery
   * receipts (of what it sent, and those the SMSC offers on bind); 0: it does not wait.
   */
  receiptWaitMs: number;
}

export interface DeliverySettings {
  /** Attempts per channel before a message is `failed`, and the backoff between them. */
  retry: {
    maxAttempts: { email: number; sms: number; print: number };
    baseMs: number;
    maxMs: number;
    jitter: number;
  };
  /** How long a claimed message stays the worker's before another may take it (after a crash). */
  leaseMs: number;
  /** Messages claimed in one go. */
  batchSize: number;
}

type Env = NodeJS.ProcessEnv;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = value(env, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new SettingsError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

/** An on/off setting: on, true, yes, 1 or off, false, no, 0; anything else names the setting. */
export function onOff(env: Env, name: string, fallback: boolean): boolean {
  const text = value(env, name)?.toLowerCase();
  if (text === undefined) return fallback;
  if (['on', 'true', 'yes', '1'].includes(text)) return true;
  if (['off', 'false', 'no', '0'].includes(text)) return false;
  throw new SettingsError(name, `must be on or off, got "${text}"`);
}

export function loadSmsSettings(env: Env): SmsSettings {
  const bindMode = (value(env, 'KMC_SMPP_BIND_MODE') ?? 'transceiver').toLowerCase();
  if (!['transceiver', 'transmitter', 'transmitter+receiver'].includes(bindMode)) {
    throw new SettingsError('KMC_SMPP_BIND_MODE', `must be transceiver, transmitter+receiver or transmitter, got "${bindMode}"`);
  }
  const caFile = value(env, 'KMC_SMPP_CA') ?? null;
  if (caFile) {
    if (!existsSync(caFile)) throw new SettingsError('KMC_SMPP_CA', `file ${caFile} does not exist`);
    try {
      if (!readFileSync(caFile, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
        throw new SettingsError('KMC_SMPP_CA', `file ${caFile} holds no PEM certificate`);
      }
    } catch (err) {
      if (err instanceof SettingsError) throw err;
      throw new SettingsError('KMC_SMPP_CA', `cannot read ${caFile}: ${(err as Error).message}`);
    }
  }
  const sender = value(env, 'KMC_SMS_SENDER') ?? null;
  if (sender) {
    const reading = readSmsSender(sender);
    if (!reading.ok) throw new SettingsError('KMC_SMS_SENDER', reading.problem);
  }
  return {
    bindMode: bindMode as SmppBindMode,
    windowSize: wholeNumber(env, 'KMC_SMPP_WINDOW', 10, 1, 1000),
    pduTimeoutMs: wholeNumber(env, 'KMC_SMPP_PDU_TIMEOUT_MS', 10_000, 100, 600_000),
    enquireLinkMs: wholeNumber(env, 'KMC_SMPP_ENQUIRE_LINK_SECONDS', 30, 0, 3600) * 1000,
    tls: onOff(env, 'KMC_SMPP_TLS', false),
    caFile,
    sender,
    receiptWaitMs: wholeNumber(env, 'KMC_SMS_RECEIPT_WAIT_SECONDS', 30, 0, 3600) * 1000,
  };
}

export function loadDeliverySettings(env: Env): DeliverySettings {
  const baseMs = wholeNumber(env, 'KMC_RETRY_FIRST_SECONDS', 60, 1, 86_400) * 1000;
  const maxMs = wholeNumber(env, 'KMC_RETRY_MAX_SECONDS', 6 * 3600, 1, 7 * 86_400) * 1000;
  if (maxMs < baseMs) {
    throw new SettingsError('KMC_RETRY_MAX_SECONDS', `(${maxMs / 1000}) must not be below KMC_RETRY_FIRST_SECONDS (${baseMs / 1000})`);
  }
  return {
    retry: {
      maxAttempts: {
        email: wholeNumber(env, 'KMC_RETRY_EMAIL_ATTEMPTS', 8, 1, 100),
        sms: wholeNumber(env, 'KMC_RETRY_SMS_ATTEMPTS', 8, 1, 100),
        print: wholeNumber(env, 'KMC_RETRY_PRINT_ATTEMPTS', 3, 1, 100),
      },
      baseMs,
      maxMs,
      jitter: 0.25,
    },
    leaseMs: wholeNumber(env, 'KMC_DELIVERY_LEASE_SECONDS', 300, 1, 86_400) * 1000,
    batchSize: wholeNumber(env, 'KMC_DELIVERY_BATCH', 500, 1, 5000),
  };
}
