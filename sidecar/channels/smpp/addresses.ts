/**
 * Source and destination addresses with the TON/NPI that match their form.
 * Destinations are E.164 (the worker hands them over normalised); senders may
 * be an alphanumeric name, an international number, a national number or a
 * short code.
 */
import { KmcError } from '../../errors';
import { Npi, Ton } from './protocol';

export interface SmppAddress {
  addr: string;
  ton: number;
  npi: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const SHORT_CODE = /^\d{3,6}$/;
const NATIONAL = /^\d{7,15}$/;
const LOOKS_NUMERIC = /^[+\d\s().-]+$/;
const ALPHANUMERIC = /^[\x20-\x7e]{1,11}$/;

/** E.164 destination → TON 1 (international), NPI 1 (ISDN), digits without '+'. */
export function destinationAddress(to: string): SmppAddress {
  const value = (to ?? '').trim();
  if (!E164.test(value)) {
    throw new KmcError('SMPP_INVALID_DESTINATION', `"${to}" is not an E.164 phone number (+ and 7 to 15 digits)`, { to });
  }
  return { addr: value.slice(1), ton: Ton.INTERNATIONAL, npi: Npi.ISDN };
}

/**
 * Sender → address with matching TON/NPI:
 * - empty: TON 0 NPI 0, the SMSC puts in the account's default sender;
 * - "+4712345678": international, TON 1 NPI 1;
 * - 3 to 6 digits: short code, TON 3 (network specific) NPI 1;
 * - 7 to 15 digits without '+': national, TON 0 (unknown, the SMSC applies its own numbering plan) NPI 1;
 * - up to 11 printable ASCII characters with a letter: alphanumeric, TON 5 NPI 0.
 */
export function sourceAddress(from: string): SmppAddress {
  const value = (from ?? '').trim();
  if (value === '') return { addr: '', ton: Ton.UNKNOWN, npi: Npi.UNKNOWN };
  if (E164.test(value)) return { addr: value.slice(1), ton: Ton.INTERNATIONAL, npi: Npi.ISDN };
  if (SHORT_CODE.test(value)) return { addr: value, ton: Ton.NETWORK_SPECIFIC, npi: Npi.ISDN };
  if (NATIONAL.test(value)) return { addr: value, ton: Ton.UNKNOWN, npi: Npi.ISDN };
  if (LOOKS_NUMERIC.test(value)) {
    throw new KmcError(
      'SMPP_INVALID_SOURCE',
      `sender "${from}" looks like a phone number but is not +E.164, a national number or a short code`,
      { from },
    );
  }
  if (!/[A-Za-z]/.test(value) || !ALPHANUMERIC.test(value)) {
    throw new KmcError(
      'SMPP_INVALID_SOURCE',
      `alphanumeric sender "${from}" must be 1 to 11 plain ASCII characters with at least one letter`,
      { from },
    );
  }
  return { addr: value, ton: Ton.ALPHANUMERIC, npi: Npi.UNKNOWN };
}
