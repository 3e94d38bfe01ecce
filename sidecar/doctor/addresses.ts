/**
 * The doctor's look at the library's own addresses: every sender, reply-to and
 * return path set in Koha's branches, in Koha's system preferences and in the
 * branch settings here, each put through the address check. A refused one is
 * never used; the doctor names where it is, why, and what is used instead.
 */
import { ADDRESS_PROBLEM_TEXT, SENDER_PREFERENCES, branchAddresses, checkAddress, type AddressInForce } from '../addresses';

/** A finding of the doctor's report (see diagnose.ts), in the `addresses` area. */
interface Finding {
  area: 'addresses';
  subject: string;
  verdict: 'ok' | 'warning' | 'problem';
  says: string;
  hint: string | null;
}

/** What the doctor reads for it: Koha's branches with their addresses, the branch settings here, the preferences. */
export interface LibraryAddresses {
  branches: Array<{
    branchcode: string;
    branchemail: string | null;
    branchreplyto: string | null;
    branchreturnpath: string | null;
  }>;
  own: Array<{ branchcode: string; sender_email: string | null; reply_to: string | null }>;
  preferences: Record<string, string | null>;
}

const WHERE = {
  record: 'correct it in Koha (Administration › Libraries), or give the branch its own sender on the Settings page here',
  own: 'correct it on the Settings page here (staff pages, Settings)',
  preference: 'correct it in Koha (Administration › System preferences)',
};

/** The value as the doctor shows it: quoted, line breaks visible, cut to a line. */
function shown(value: string): string {
  const q = JSON.stringify(value);
  return q.length > 80 ? `${q.slice(0, 77)}…"` : q;
}

function inForce(a: AddressInForce): string {
  return a.address ? `${a.address} (${a.source?.name ?? ''}) is used instead` : 'none is used instead';
}

export function addressFindings(lib: LibraryAddresses, mailFrom: string): Finding[] {
  const out: Finding[] = [];
  const refuse = (subject: string, value: string | null, hint: string, instead: () => string): void => {
    if (value === null || value.trim() === '') return;
    const check = checkAddress(value);
    if (check.ok) return;
    out.push({
      area: 'addresses',
      subject,
      verdict: 'warning',
      says: `${shown(value)} is refused: ${ADDRESS_PROBLEM_TEXT[check.problem]}; ${instead()}`,
      hint,
    });
  };
  const own = new Map(lib.own.map((r) => [r.branchcode, r]));
  let noSender = 0;
  const records = new Map(lib.branches.map((b) => [b.branchcode, b]));
  // Koha's branches, and any branch that has settings here (its sender setting is checked all the same).
  for (const code of [...new Set([...records.keys(), ...own.keys()])].sort()) {
    const b = records.get(code) ?? null;
    const o = own.get(code) ?? null;
    const a = branchAddresses({ own: o, branch: b, preferences: lib.preferences, mailFrom });
    refuse(`branch ${code}, its sender in the branch settings`, o?.sender_email ?? null, WHERE.own, () => inForce(a.sender));
    refuse(`branch ${code}, its reply-to in the branch settings`, o?.reply_to ?? null, WHERE.own, () => inForce(a.replyTo));
    refuse(`branch ${code}, branches.branchemail`, b?.branchemail ?? null, WHERE.record, () => inForce(a.sender));
    refuse(`branch ${code}, branches.branchreplyto`, b?.branchreplyto ?? null, WHERE.record, () => inForce(a.replyTo));
    refuse(`branch ${code}, branches.branchreturnpath`, b?.branchreturnpath ?? null, WHERE.record, () => inForce(a.returnPath));
    if (!a.sender.address) noSender += 1;
  }
  for (const name of SENDER_PREFERENCES) {
    refuse(`Koha's system preference ${name}`, lib.preferences[name] ?? null, WHERE.preference, () =>
      name === 'KohaAdminEmailAddress' ? 'branches without an address of their own send from KMC_MAIL_FROM' : 'it is not used',
    );
  }
  if (noSender) {
    out.push({
      area: 'addresses',
      subject: 'the sender of e-mail notices',
      verdict: 'problem',
      says: `${noSender} branch(es) have no sender address that passes the check: their e-mail notices fail unsent`,
      hint: 'set KohaAdminEmailAddress in Koha, or KMC_MAIL_FROM',
    });
  }
  if (!out.length) {
    out.push({
      area: 'addresses',
      subject: "the library's addresses (sender, reply-to, return path)",
      verdict: 'ok',
      says: `every one set in Koha's ${lib.branches.length} branch(es), its system preferences and the branch settings passes the check`,
      hint: null,
    });
  }
  return out;
}
