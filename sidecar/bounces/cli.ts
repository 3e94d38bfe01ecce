/** `kmc bounces classify FILE... [--json]`: what saved messages say, without touching the database. */
import { readFile } from 'node:fs/promises';
import { classifyBounce } from './classify';
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
