/**
 * `kmc templates import-koha`: reads the library's notice letters from Koha,
 * converts them (planKohaLetterImport), and writes the templates the plan
 * says to write through the template store. A template staff wrote or
 * edited here is never written; running it again changes nothing.
 */
import type { KohaLetter, KohaOverdueTrigger, KohaCirculationTrigger } from '../host';
import type { ImportWrite, TemplateImportState, TemplateKey } from '../rendering';
import { planKohaLetterImport, type KohaLetterImportPlan, type PlannedAction, type TemplatePlace } from './plan';

/** The letter codes of the notices the sidecar sends, as Koha names them by default. */
export const KOHA_LETTER_CODES: readonly string[] = [
  'ODUE',
  'ODUE2',
  'ODUE3',
  'PREDUE',
  'PREDUEDGST',
  'DUE',
  'DUEDGST',
  'HOLD',
  'HOLD_REMINDER',
  'WELCOME',
];

export interface KohaLetterImportDeps {
  host: {
    kohaLetters(codes: readonly string[]): Promise<KohaLetter[]>;
    overdueTriggers(): Promise<KohaOverdueTrigger[]>;
    circulationOverdueTriggers(): Promise<KohaCirculationTrigger[]>;
    systemPreferences(names: string[]): Promise<Record<string, string | null>>;
  };
  templates: {
    importStates(): Promise<TemplateImportState[]>;
    saveImported(
      key: TemplateKey,
      texts: { subject: string | null; body_text: string; body_html: string | null },
      kohaLetters: string,
      at: Date,
    ): Promise<ImportWrite>;
  };
  now: () => Date;
}

export interface KohaLetterImportOptions {
  /** What Koha's `default` letters become; without it, the first of Koha's `language` preference, else English. */
  defaultLang?: string;
  /** Plan only: write nothing. */
  dryRun?: boolean;
}

export interface KohaLetterImportOutcome {
  plan: KohaLetterImportPlan;
  /** Per planned template, what was written (a template staff saved meanwhile is `keep`). */
  written: Array<{ place: TemplatePlace; action: PlannedAction }>;
  defaultLang: string;
  dryRun: boolean;
}

function isMissingTable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ER_NO_SUCH_TABLE';
}

/** Which overdue levels each letter code serves, from Koha's overdue triggers (older overduerules and newer circulation rules). */
async function overdueLevels(host: KohaLetterImportDeps['host']): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const add = (letter: string | null, level: number) => {
    if (!letter) return;
    const levels = out.get(letter) ?? [];
    if (!levels.includes(level)) levels.push(level);
    out.set(letter, levels);
  };
  try {
    for (const t of await host.overdueTriggers()) for (const l of t.levels) add(l.letter, l.level);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  }
  for (const t of await host.circulationOverdueTriggers()) add(t.letter, t.level);
  return out;
}

export async function importKohaLetters(deps: KohaLetterImportDeps, opts: KohaLetterImportOptions = {}): Promise<KohaLetterImportOutcome> {
  const levels = await overdueLevels(deps.host);
  const prefs = await deps.host.systemPreferences(['language']);
  const defaultLang = opts.defaultLang ?? (prefs.language?.split(',')[0]?.trim() || 'en');
  const letters = await deps.host.kohaLetters([...KOHA_LETTER_CODES, ...levels.keys()]);
  const existing = (await deps.templates.importStates()).map((t) => ({
    messageType: t.message_type,
    channel: t.channel,
    lang: t.lang,
    branchcode: t.branchcode,
    subject: t.subject,
    text: t.body_text,
    html: t.body_html,
    importedFromKoha: t.koha_letters !== null,
    editedHere: t.edited_since_import,
  }));
  const plan = planKohaLetterImport(letters, existing, { defaultLang, ...(levels.size ? { overdueLevels: levels } : {}) });
  const written: KohaLetterImportOutcome['written'] = [];
  const at = deps.now();
  for (const t of plan.templates) {
    if (opts.dryRun || t.action === 'keep' || t.action === 'unchanged') {
      written.push({ place: t.place, action: t.action });
      continue;
    }
    const key: TemplateKey = {
      message_type: t.place.messageType,
      channel: t.place.channel,
      lang: t.place.lang,
      branchcode: t.place.branchcode,
    };
    const did = await deps.templates.saveImported(
      key,
      { subject: t.template.subject, body_text: t.template.text, body_html: t.template.html },
      t.letters.join(', '),
      at,
    );
    written.push({ place: t.place, action: did === 'created' ? 'create' : did === 'updated' ? 'update' : 'keep' });
  }
  return { plan, written, defaultLang, dryRun: !!opts.dryRun };
}
