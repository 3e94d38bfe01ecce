/**
 * The forms a phone number and an SMS sender may take. Settings check a
 * sender when they are read, staff pages when a branch's sender is saved, and
 * the SMS channel when it numbers the sender for the SMSC: all by the same
 * rules, so a sender the settings accept is one the channel can send from.
 */

const E164 = /^\+[1-9]\d{6,14}$/;
const SHORT_CODE = /^\d{3,6}$/;
const NATIONAL = /^\d{7,15}$/;
const LOOKS_NUMERIC = /^[+\d\s().-]+$/;
const ALPHANUMERIC = /^[\x20-\x7e]{1,11}$/;

/** An international phone number: '+' and 7 to 15 digits, the first not 0. */
export function isE164(value: string): boolean {
  return E164.test(value);
}

/**
 * What a sender is:
 * - `account_default`: empty, the SMSC puts in the account's own sender;
 * - `international`: "+4712345678";
 * - `short_code`: 3 to 6 digits;
 * - `national`: 7 to 15 digits without '+';
 * - `alphanumeric`: up to 11 printable ASCII characters with a letter, e.g. "Library".
 */
export type SmsSenderForm = 'account_default' | 'international' | 'short_code' | 'national' | 'alphanumeric';

/** A sender as the SMSC gets it: `addr` is the digits without '+', or the name. */
export interface SmsSender {
  form: SmsSenderForm;
  addr: string;
}

export type SmsSenderReading = { ok: true; sender: SmsSender } | { ok: false; problem: string };

/** Reads a sender (trimmed); `problem` says in words why it cannot be one. */
export function readSmsSender(from: string): SmsSenderReading {
  const value = from.trim();
  if (value === '') return { ok: true, sender: { form: 'account_default', addr: '' } };
  if (E164.test(value)) return { ok: true, sender: { form: 'international', addr: value.slice(1) } };
  if (SHORT_CODE.test(value)) return { ok: true, sender: { form: 'short_code', addr: value } };
  if (NATIONAL.test(value)) return { ok: true, sender: { form: 'national', addr: value } };
  if (LOOKS_NUMERIC.test(value)) {
    return { ok: false, problem: `sender "${from}" looks like a phone number but is not +E.164, a national number or a short code` };
  }
  if (!/[A-Za-z]/.test(value) || !ALPHANUMERIC.test(value)) {
    return { ok: false, problem: `alphanumeric sender "${from}" must be 1 to 11 plain ASCII characters with at least one letter` };
  }
  return { ok: true, sender: { form: 'alphanumeric', addr: value } };
}
