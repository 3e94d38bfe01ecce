/**
 * `kmc templates import-koha [--dry-run] [--default-lang CODE] [--json]`: the
 * command line of the import. Usage errors exit 2 (thrown as UsageError);
 * work that fails (the database) exits 1; letters that could not be
 * converted are reported with the line and why, and the rest is imported.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import { importKohaLetters, type KohaLetterImportDeps, type KohaLetterImportOutcome } from './import';
import { describeImportPlan } from './report';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

export const TEMPLATES_USAGE = `  kmc templates import-koha [--dry-run] [--default-lang CODE] [--json]
                                            Koha's notice letters (overdue, pre-due, due, hold, welcome) as templates;
                                            never overwrites a template edited here; says what it could not convert`;

const WRITTEN_WORDS: Readonly<Record<string, string>> = {
  create: 'created',
  update: 'updated',
  unchanged: 'unchanged',
  keep: 'kept as staff left it',
};

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      options: { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'default-lang': { type: 'string' } },
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError(`kmc templates import-koha: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function asJson(outcome: KohaLetterImportOutcome): string {
  const { plan } = outcome;
  return JSON.stringify({
    dryRun: outcome.dryRun,
    defaultLang: outcome.defaultLang,
    letters: plan.letters.map((l) => ({
      letter: l.letter,
      code: l.code,
      status: l.status,
      reason: l.reason,
      target: l.target && {
        messageType: l.target.messageType,
        levels: l.target.levels,
        channel: l.target.channel,
        lang: l.target.lang,
        branchcode: l.target.branchcode,
      },
      problems: l.problems,
      notes: l.notes,
    })),
    templates: plan.templates.map((t, i) => ({
      ...t.place,
      planned: t.action,
      done: outcome.written[i]?.action ?? t.action,
      reason: t.reason,
      letters: t.letters,
    })),
    notes: plan.notes,
    counts: plan.counts,
  });
}

export async function templatesCommand(
  rest: string[],
  open: <T>(fn: (deps: KohaLetterImportDeps) => Promise<T>) => Promise<T>,
  out: Out,
): Promise<number> {
  const [sub, ...args] = rest;
  if (sub !== 'import-koha') throw new UsageError(`kmc templates takes: import-koha [--dry-run] [--default-lang CODE] [--json]`);
  const values = parse(args);
  const lang = values['default-lang'];
  if (lang !== undefined && !/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(lang)) {
    throw new UsageError(`--default-lang takes a language code such as sv-SE or en, got "${lang}"`);
  }
  return open(async (deps) => {
    const outcome = await importKohaLetters(deps, { dryRun: values['dry-run'] ?? false, ...(lang ? { defaultLang: lang } : {}) });
    if (values.json) {
      out.stdout(asJson(outcome));
      return 0;
    }
    for (const line of describeImportPlan(outcome.plan)) out.stdout(line);
    if (outcome.dryRun) out.stdout('dry run: nothing was written');
    else
      for (const w of outcome.written) {
        const p = w.place;
        out.stdout(
          `${p.messageType} ${p.channel} ${p.lang}${p.branchcode ? ` ${p.branchcode}` : ''}: ${WRITTEN_WORDS[w.action] ?? w.action}`,
        );
      }
    return 0;
  });
}
