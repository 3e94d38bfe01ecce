/** `kmc bounces classify FILE... [--json]`: what saved messages say, without touching the database; `kmc bounces process FILE...` feeds them in. */
import { readFile } from 'node:fs/promises';
import { classifyBounce } from './classify';
import type { IntakeResult } from './intake';
import type { BounceVerdict } from './verdict';

export interface CommandOutput {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

function whyUnreadable(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a folder, not a saved message';
  if (code === 'EACCES' || code === 'EPERM') return 'not allowed to read it';
  return err instanceof Error ? err.message : String(err);
}

function describe(file: string, v: BounceVerdict): string {
  const parts = [`${file}: ${v.kind}`];
  if (v.recipient) parts.push(v.recipient);
  if (v.status) parts.push(v.status);
  if (v.reason) parts.push(`(${v.reason})`);
  if (v.diagnostic) parts.push(`- ${v.diagnostic}`);
  return parts.join(' ');
}

/** Classify each file in turn; a file that cannot be read is reported and the rest still go. Exit code 1 if any failed. */
export async function bouncesClassifyCommand(files: readonly string[], opts: { json: boolean }, out: CommandOutput): Promise<number> {
  let failed = 0;
  for (const file of files) {
    let verdict: BounceVerdict;
    try {
      verdict = await classifyBounce(await readFile(file));
    } catch (err: unknown) {
      failed++;
      const error = `cannot read: ${whyUnreadable(err)}`;
      if (opts.json) out.stdout(JSON.stringify({ file, error }));
      else out.stderr(`kmc bounces classify: ${file}: ${error}`);
      continue;
    }
    if (opts.json) {
      const { kind, recipient, status, diagnostic, reason, verpTag } = verdict;
      out.stdout(JSON.stringify({ file, kind, recipient, status, diagnostic, reason, verpTag }));
    } else out.stdout(describe(file, verdict));
  }
  return failed ? 1 : 0;
}

/** Something that takes a returned message as if it had arrived (the bounce intake). */
export interface ReturnedMessageTaker {
  take(raw: Buffer, opts: { actor: string }): Promise<IntakeResult>;
}

/**
 * `kmc bounces process FILE... [--json]`: feeds saved messages in as if they had arrived, then prints what each did
 * and a summary. A file that cannot be read or recorded is reported and the rest still go. Exit code 1 if any failed.
 */
export async function bouncesProcessCommand(
  files: readonly string[],
  opts: { json: boolean },
  intake: ReturnedMessageTaker,
  out: CommandOutput,
): Promise<number> {
  const summary = { files: files.length, recorded: 0, ignored: 0, forged: 0, noTag: 0, unknownMessage: 0, replaced: 0, failed: 0 };
  for (const file of files) {
    let result: IntakeResult;
    try {
      const raw = await readFile(file);
      result = await intake.take(raw, { actor: 'kmc bounces process' });
    } catch (err: unknown) {
      summary.failed++;
      const error = `cannot process: ${whyUnreadable(err)}`;
      if (opts.json) out.stdout(JSON.stringify({ file, error }));
      else out.stderr(`kmc bounces process: ${file}: ${error}`);
      continue;
    }
    if (result.effect === 'recorded') summary.recorded++;
    else if (result.effect === 'ignored') summary.ignored++;
    else if (result.effect === 'forged') summary.forged++;
    else if (result.effect === 'no_tag') summary.noTag++;
    else summary.unknownMessage++;
    if (result.replacement?.outcome === 'replaced') summary.replaced++;
    const { kind, effect, messageId, status, addressState, replacement } = result;
    if (opts.json) out.stdout(JSON.stringify({ file, kind, effect, messageId, status, addressState, replacement }));
    else {
      const what = [`${file}: ${kind}, ${effect.replace('_', ' ')}`];
      if (messageId !== null && effect === 'recorded')
        what.push(`message ${String(messageId)} ${status ?? ''}, address ${addressState ?? ''}`);
      if (replacement?.outcome === 'replaced') what.push(`replaced by message ${String(replacement.newId)} (${replacement.channel})`);
      else if (replacement) what.push(`not replaced: ${replacement.why}`);
      out.stdout(what.join('; '));
    }
  }
  if (opts.json) out.stdout(JSON.stringify({ summary }));
  else
    out.stdout(
      `${String(summary.files)} files: ${String(summary.recorded)} recorded, ${String(summary.replaced)} replaced, ${String(summary.ignored)} changed nothing, ` +
        `${String(summary.forged)} forged, ${String(summary.noTag)} without a return path of ours, ${String(summary.unknownMessage)} for unknown messages, ${String(summary.failed)} failed`,
    );
  return summary.failed ? 1 : 0;
}
