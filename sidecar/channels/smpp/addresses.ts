/**
 * Source and destination addresses with the TON/NPI that match their form.
 * Destinations are E.164 (the worker hands them over normalised); senders may
 * be an alphanumeric name, an international number, a national number or a
 * short code (the kernel's rules, shared with the settings).
 */
import { KmcError } from '../../errors';
import { isE164, readSmsSender, type SmsSenderForm } from '../../kernel';
import { Npi, Ton } from './protocol';

export interface SmppAddress {
  addr: string;
  ton: number;
  npi: number;
}

/** E.164 destination → TON 1 (international), NPI 1 (ISDN), digits without '+'. */
export function destinationAddress(to: string): SmppAddress {
  const value = to.trim();
  if (!isE164(value)) {
    throw new KmcError('SMPP_INVALID_DESTINATION', `"${to}" is not an E.164 phone number (+ and 7 to 15 digits)`, { to });
  }
  return { addr: value.slice(1), ton: Ton.INTERNATIONAL, npi: Npi.ISDN };
}

/**
 * The TON/NPI of each sender form. A national number gets TON 0 (unknown):
 * the SMSC applies its own numbering plan. A short code is network specific.
 */
const NUMBERING: Record<SmsSenderForm, { ton: number; npi: number }> = {
  account_default: { ton: Ton.UNKNOWN, npi: Npi.UNKNOWN },
  international: { ton: Ton.INTERNATIONAL, npi: Npi.ISDN },
  short_code: { ton: Ton.NETWORK_SPECIFIC, npi: Npi.ISDN },
  national: { ton: Ton.UNKNOWN, npi: Npi.ISDN },
  alphanumeric: { ton: Ton.ALPHANUMERIC, npi: Npi.UNKNOWN },
};

/** Sender → address with matching TON/NPI; an empty sender leaves the choice to the SMSC. */
export function sourceAddress(from: string): SmppAddress {
  const reading = readSmsSender(from);
  if (!reading.ok) throw new KmcError('SMPP_INVALID_SOURCE', reading.problem, { from });
  return { addr: reading.sender.addr, ...NUMBERING[reading.sender.form] };
}
