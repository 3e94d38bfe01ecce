/**
 * `kmc verification scan [--json]` and
 * `kmc verification mark-verified --borrower N [--email ADDRESS] [--by NAME] [--json]`.
 */
import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { UsageError } from '../errors';
import type { VerificationService, PatronVerificationState, ScanResult } from './service';

type Out = { stdout: (s: string) => void };

export const VERIFICATION_USAGE = `  kmc verification scan [--json]            notice new or changed e-mail addresses, send links, expire old ones
  kmc verification mark-verified --borrower N [--email ADDRESS] [--by NAME] [--json]
                                            staff confirm a patron's e-mail address by hand`;

export async function verificationCommand(args: string[], verification: VerificationService, out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'scan') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
    const result = await verification.scan({ actor: 'cli' });
    if (values.json) out.stdout(JSON.stringify(result));
    else out.stdout(describeScan(result));
    return 0;
  }
  if (sub === 'mark-verified') {
    const { values } = parseArgs({
      args: rest,
      options: { borrower: { type: 'string' }, email: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (!values.borrower || !/^[1-9]\d{0,9}$/.test(values.borrower))
      throw new UsageError('kmc verification mark-verified needs --borrower N');
    const by = values.by?.trim() || `cli:${safeUser()}`;
    const done = await verification.markVerified(Number(values.borrower), by, values.email ?? null);
    if (values.json) out.stdout(JSON.stringify({ ...done, verified_by: by }));
    else
      out.stdout(
        `Patron ${done.borrowernumber}: e-mail address ${done.email} verified by ${by}; ${done.released} held notice(s) released.`,
      );
    return 0;
  }
  throw new UsageError(`kmc verification takes scan or mark-verified\n\n${VERIFICATION_USAGE}`);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function describeScan(r: ScanResult): string {
  if (r.notRun === 'disabled') return 'Nothing scanned: the Message Center is switched off in Koha.';
  const lines = [
    r.baseline
      ? `First scan: ${r.verified} existing address(es) taken as verified, ${r.exempt} exempt.`
      : `Checked ${r.checked} new or changed address(es): ${r.linksSent} verification link(s) sent, ${r.exempt} exempt, ${r.noAddress} without a usable address, ${r.unchanged} unchanged.`,
    `Expired: ${r.expired}; held notices released: ${r.released}.`,
  ];
  const fallback = Object.entries(r.fallback).map(([channel, n]) => `${channel} ${n}`);
  if (fallback.length || r.missingContact)
    lines.push(`Held notices sent another way: ${fallback.join(', ') || 'none'}; missing contact: ${r.missingContact}.`);
  if (r.clearedInKoha) lines.push(`Expired addresses cleared in Koha: ${r.clearedInKoha}.`);
  return lines.join('\n');
}

/** One line for `kmc messages --borrower N`. */
export function describeState(s: PatronVerificationState): string {
  const when = (v: string | null) => (v ? `${v.replace(/\.\d{3}$/, '')} UTC` : '');
  switch (s.state) {
    case 'none':
      return 'E-mail address: none usable in Koha.';
    case 'verified':
      return `E-mail address ${s.email}: verified ${when(s.verified_at)}${s.verified_by ? ` by ${s.verified_by}` : ''}.`;
    case 'exempt':
      return `E-mail address ${s.email}: needs no verification (${s.verified_by ?? 'exempt category'}).`;
    case 'pending':
      return `E-mail address ${s.email}: waiting for the patron to verify (link sent ${when(s.sent_at)}, valid until ${when(s.expires_at)}); e-mail notices are held.`;
    case 'expired':
      return `E-mail address ${s.email}: not verified in time (expired ${when(s.expires_at)}); it is not used.`;
    case 'unchecked':
      return `E-mail address ${s.email}: new or changed since the last scan${s.usable ? '' : '; e-mail notices are held until it is verified'}.`;
  }
}
