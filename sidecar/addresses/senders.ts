/**
 * Which sender, reply-to and return path a branch's e-mail goes out with, as
 * Koha decides it, each candidate checked in turn: the branch's setting in the
 * Message Center, the branch's own address in Koha, Koha's system preference,
 * and (for the sender only) KMC_MAIL_FROM when Koha gives none. A candidate
 * that is set but refused by the check is passed over with its reason kept;
 * it is never used.
 */
import { checkAddress, type AddressCheckOptions, type AddressProblem } from './check';

/** The three addresses of an e-mail notice. */
export type AddressRole = 'sender' | 'reply_to' | 'return_path';

/** Where a candidate comes from: the branch's setting here, the branch record in Koha, a system preference, a setting of the sidecar. */
export type AddressSourceKind = 'branch_setting' | 'branch_record' | 'system_preference' | 'setting';

export interface AddressCandidate {
  kind: AddressSourceKind;
  /** The field or preference, e.g. `branchemail`, `KohaAdminEmailAddress`, `KMC_MAIL_FROM`. */
  name: string;
  value: string | null;
}

export interface RefusedAddress {
  role: AddressRole;
  candidate: AddressCandidate;
  problem: AddressProblem;
}

export interface AddressInForce {
  role: AddressRole;
  /** The checked address (an international domain in its xn-- form), or null when no candidate gives one. */
  address: string | null;
  /** The candidate it came from. */
  source: AddressCandidate | null;
  /** Candidates that were set but refused, in the order they were tried. */
  refused: RefusedAddress[];
}

/** Koha's system preferences that name the library's addresses. */
export const SENDER_PREFERENCES = ['KohaAdminEmailAddress', 'ReplytoDefault', 'ReturnpathDefault'] as const;

export interface SenderSources {
  /** The branch's row in the Message Center's settings. */
  own: { sender_email: string | null; reply_to: string | null } | null;
  /** The branch's record in Koha. */
  branch: { branchemail: string | null; branchreplyto: string | null; branchreturnpath?: string | null } | null;
  /** Koha's system preferences by name (those of SENDER_PREFERENCES). */
  preferences: Record<string, string | null>;
  /** KMC_MAIL_FROM. */
  mailFrom: string;
}

export interface BranchAddresses {
  sender: AddressInForce;
  replyTo: AddressInForce;
  returnPath: AddressInForce;
}

/** The first candidate that is set and passes the check; the refused ones on the way are kept. */
export function addressInForce(role: AddressRole, candidates: AddressCandidate[], opts: AddressCheckOptions = {}): AddressInForce {
  const refused: RefusedAddress[] = [];
  for (const candidate of candidates) {
    if (candidate.value === null || candidate.value.trim() === '') continue;
    const check = checkAddress(candidate.value, opts);
    if (check.ok) return { role, address: check.address, source: candidate, refused };
    refused.push({ role, candidate, problem: check.problem });
  }
  return { role, address: null, source: null, refused };
}

/** The candidates of each role, in the order Koha and the Message Center try them. */
export function senderCandidates(s: SenderSources): Record<AddressRole, AddressCandidate[]> {
  const pref = (name: string): AddressCandidate => ({ kind: 'system_preference', name, value: s.preferences[name] ?? null });
  return {
    sender: [
      { kind: 'branch_setting', name: 'sender_email', value: s.own?.sender_email ?? null },
      { kind: 'branch_record', name: 'branchemail', value: s.branch?.branchemail ?? null },
      pref('KohaAdminEmailAddress'),
      { kind: 'setting', name: 'KMC_MAIL_FROM', value: s.mailFrom },
    ],
    reply_to: [
      { kind: 'branch_setting', name: 'reply_to', value: s.own?.reply_to ?? null },
      { kind: 'branch_record', name: 'branchreplyto', value: s.branch?.branchreplyto ?? null },
      pref('ReplytoDefault'),
    ],
    return_path: [
      { kind: 'branch_record', name: 'branchreturnpath', value: s.branch?.branchreturnpath ?? null },
      pref('ReturnpathDefault'),
    ],
  };
}

/** The sender, reply-to and return path in force for one branch. */
export function branchAddresses(s: SenderSources, opts: AddressCheckOptions = {}): BranchAddresses {
  const c = senderCandidates(s);
  return {
    sender: addressInForce('sender', c.sender, opts),
    replyTo: addressInForce('reply_to', c.reply_to, opts),
    returnPath: addressInForce('return_path', c.return_path, opts),
  };
}
