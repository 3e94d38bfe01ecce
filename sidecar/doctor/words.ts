/** The doctor's report in words, for an admin at a terminal. */
import type { DoctorReport, Verdict } from './diagnose';

const MARK: Record<Verdict, string> = {
  ok: 'ok',
  warning: 'WARNING',
  problem: 'PROBLEM',
  not_checked: 'not checked',
};

export function describeReport(report: DoctorReport): string {
  const lines: string[] = ['kmc doctor: Koha Message Center', '', 'Settings (* set in the environment, others are defaults):'];
  const width = Math.max(...report.settings.map((s) => s.name.length));
  for (const s of report.settings) lines.push(`  ${s.from === 'environment' ? '*' : ' '} ${s.name.padEnd(width)}  ${s.value}`);
  lines.push('', 'Checks:');
  const markWidth = Math.max(...Object.values(MARK).map((m) => m.length));
  for (const f of report.findings) {
    lines.push(`  ${MARK[f.verdict].padEnd(markWidth)}  ${f.subject}: ${f.says}`);
    if (f.hint) lines.push(`  ${' '.repeat(markWidth)}    what to do: ${f.hint}`);
  }
  lines.push('');
  const counts = `${report.problems} problem(s), ${report.warnings} warning(s)`;
  lines.push(report.ok ? `All is well (${counts}).` : `Something is wrong: ${counts}.`);
  return lines.join('\n');
}
