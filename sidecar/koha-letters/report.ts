/**
 * The import's report as lines for the command line: per letter what it
 * became, and for each piece left out the line in the letter and why.
 */
import type { ConversionResult } from './conversion';
import type { KohaLetterImportPlan } from './plan';

const CHANNEL_WORDS: Readonly<Record<string, string>> = { email: 'e-mail', sms: 'SMS', print: 'letter' };

function whereTo(result: ConversionResult): string {
  const t = result.target;
  if (!t) return '';
  const levels = t.levels.length ? ` level ${t.levels.join(', ')}` : '';
  const branch = t.branchcode ? `branch ${t.branchcode}` : 'every branch';
  return `${t.messageType}${levels} by ${CHANNEL_WORDS[t.channel] ?? t.channel} (${t.lang}, ${branch})`;
}

export function describeConversion(result: ConversionResult): string[] {
  if (result.status === 'not_converted') return [`${result.letter}: not converted: ${result.reason ?? ''}`];
  const head =
    result.status === 'converted'
      ? `${result.letter}: converted to ${whereTo(result)}`
      : `${result.letter}: converted to ${whereTo(result)}, with ${result.problems.length} piece(s) left out`;
  const lines = [head];
  for (const p of result.problems) lines.push(`  ${p.part} line ${p.line}: ${p.piece} left out: ${p.reason}`);
  for (const n of result.notes) lines.push(`  ${n.part}${n.piece ? ` line ${n.line}: ${n.piece}` : ''}: note: ${n.reason}`);
  return lines;
}

export function describeImportPlan(plan: KohaLetterImportPlan): string[] {
  const lines = plan.letters.flatMap(describeConversion);
  for (const t of plan.templates) {
    const p = t.place;
    lines.push(
      `${p.messageType} ${p.channel} ${p.lang}${p.branchcode ? ` ${p.branchcode}` : ''}: ${t.action} (${t.reason}) from ${t.letters.join(', ')}`,
    );
  }
  lines.push(...plan.notes);
  const c = plan.counts;
  lines.push(
    `${plan.letters.length} letter(s): ${c.converted} converted, ${c.partlyConverted} partly converted, ${c.notConverted} not converted; ` +
      `templates: ${c.create} to create, ${c.update} to update, ${c.unchanged} unchanged, ${c.keep} kept as staff left them`,
  );
  return lines;
}
