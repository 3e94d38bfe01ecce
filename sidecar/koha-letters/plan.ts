/**
 * What importing Koha's letters would do to the sidecar's templates, decided
 * without touching them (the caller applies the plan to the template store).
 *
 * Letters that land on the same template (ODUE, ODUE2 and ODUE3 on the
 * overdue template; PREDUE, PREDUEDGST, DUE and DUEDGST on the pre-due one)
 * are joined into one, each letter's text under the condition that picks it
 * (`level == 2`, `days_left == 0`, how many items); the most general letter
 * is the last, unconditional branch.
 *
 * Per template:
 * - `create`: the sidecar has no template there yet;
 * - `update`: the template there came from an earlier import, staff have not
 *   edited it since, and Koha's letters now say something else;
 * - `unchanged`: it came from an earlier import and says the same already
 *   (so running the import again changes nothing);
 * - `keep`: staff wrote or edited the template here: never overwritten.
 */
import type { ChannelName } from '../kernel';
import {
  convertWithPieces,
  refusedPart,
  templateOf,
  type ConversionResult,
  type ConvertedPieces,
  type ConvertedTemplate,
} from './conversion';
import { htmlFromTextSegments, type Segment } from './convert';
import type { ConvertOptions, ImportedNoticeType, KohaLetterRow, LetterTarget } from './letters';

/** A template the sidecar already has (in kmc_templates), as the plan needs to know it. */
export interface ExistingTemplate {
  messageType: string;
  channel: string;
  lang: string;
  branchcode: string;
  subject: string | null;
  text: string;
  html: string | null;
  /** Written by an earlier import of Koha's letters. */
  importedFromKoha: boolean;
  /** Changed by staff here (after the import, if it was imported). */
  editedHere: boolean;
}

export interface TemplatePlace {
  messageType: ImportedNoticeType;
  channel: ChannelName;
  lang: string;
  /** Empty for every branch. */
  branchcode: string;
}

export type PlannedAction = 'create' | 'update' | 'unchanged' | 'keep';

export interface PlannedTemplate {
  place: TemplatePlace;
  action: PlannedAction;
  /** Why, in a sentence. */
  reason: string;
  /** The template the letters make (also for `keep`, so staff can compare). */
  template: ConvertedTemplate;
  /** The letters it was made from, as Koha names them. */
  letters: string[];
}

export interface KohaLetterImportPlan {
  templates: PlannedTemplate[];
  /** Every letter read, with what it became and what was left out. */
  letters: ConversionResult[];
  /** Letters not used although they converted (another letter already gives the same variant). */
  notes: string[];
  counts: Record<PlannedAction, number> & { converted: number; partlyConverted: number; notConverted: number };
}

interface Variant {
  result: ConversionResult;
  target: LetterTarget;
  pieces: ConvertedPieces;
}

export function placeKey(place: { messageType: string; channel: string; lang: string; branchcode: string }): string {
  return `${place.messageType}|${place.channel}|${place.lang}|${place.branchcode}`;
}

export function planKohaLetterImport(
  letters: readonly KohaLetterRow[],
  existing: readonly ExistingTemplate[],
  options: ConvertOptions,
): KohaLetterImportPlan {
  const results: ConversionResult[] = [];
  const groups = new Map<string, Variant[]>();
  for (const letter of [...letters].sort(byLetter)) {
    const { result, pieces } = convertWithPieces(letter, options);
    results.push(result);
    if (!pieces || !result.target) continue;
    const key = placeKey(result.target);
    const group = groups.get(key) ?? [];
    group.push({ result, target: result.target, pieces });
    groups.set(key, group);
  }

  const notes: string[] = [];
  const have = new Map(existing.map((t) => [placeKey(t), t]));
  const templates: PlannedTemplate[] = [];
  for (const [key, group] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const variants = distinctVariants(group, notes);
    const { place, template } = joined(variants);
    const names = variants.map((v) => v.result.letter);
    const refused = refusedPart(template, names.join(' + '));
    if (refused) {
      notes.push(`${names.join(' + ')}: not imported: ${refused}`);
      continue;
    }
    templates.push({ place, template, letters: names, ...decide(have.get(key), template) });
  }

  const counts = { create: 0, update: 0, unchanged: 0, keep: 0, converted: 0, partlyConverted: 0, notConverted: 0 };
  for (const t of templates) counts[t.action]++;
  for (const r of results) {
    if (r.status === 'converted') counts.converted++;
    else if (r.status === 'partly_converted') counts.partlyConverted++;
    else counts.notConverted++;
  }
  return { templates, letters: results, notes, counts };
}

function byLetter(a: KohaLetterRow, b: KohaLetterRow): number {
  const ka = [a.module, a.code, a.branchcode ?? '', a.message_transport_type, a.lang ?? ''].join('|');
  const kb = [b.module, b.code, b.branchcode ?? '', b.message_transport_type, b.lang ?? ''].join('|');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The variants in the order they are asked; a second letter for the same condition is not used. */
function distinctVariants(group: Variant[], notes: string[]): Variant[] {
  const sorted = [...group].sort((a, b) => a.target.rank - b.target.rank || (a.result.code < b.result.code ? -1 : 1));
  const out: Variant[] = [];
  for (const v of sorted) {
    const same = out.find((o) => o.target.condition === v.target.condition);
    if (same) {
      notes.push(
        `${v.result.letter}: not used: ${same.result.letter} already gives this template${v.target.condition ? ` for ${v.target.condition}` : ''}`,
      );
      continue;
    }
    out.push(v);
  }
  return out;
}

/** One template from its variants: each under its condition, the last one as the fallback. */
function joined(variants: Variant[]): { place: TemplatePlace; template: ConvertedTemplate } {
  const { messageType, channel, lang, branchcode } = variants[0].target;
  const place = { messageType, channel, lang, branchcode };
  if (variants.length === 1) return { place, template: templateOf(variants[0].pieces) };
  const anyHtml = variants.some((v) => v.pieces.html !== null);
  const anySubject = variants.some((v) => v.pieces.subject !== null);
  const pieces: ConvertedPieces = {
    subject: anySubject ? choose(variants, (v) => v.pieces.subject ?? []) : null,
    text: choose(variants, (v) => v.pieces.text),
    html: anyHtml ? choose(variants, (v) => v.pieces.html ?? htmlFromTextSegments(v.pieces.text)) : null,
  };
  return { place, template: templateOf(pieces) };
}

function choose(variants: Variant[], part: (v: Variant) => Segment[]): Segment[] {
  const out: Segment[] = [];
  variants.forEach((v, i) => {
    const last = i === variants.length - 1;
    const condition = v.target.condition ?? 'true';
    out.push({ code: true, text: i === 0 ? `{% if ${condition} %}` : last ? '{% else %}' : `{% elif ${condition} %}` });
    out.push(...part(v));
  });
  out.push({ code: true, text: '{% endif %}' });
  return out;
}

function decide(current: ExistingTemplate | undefined, template: ConvertedTemplate): { action: PlannedAction; reason: string } {
  if (!current) return { action: 'create', reason: 'no template here yet' };
  if (!current.importedFromKoha) return { action: 'keep', reason: 'staff wrote this template here; it is never overwritten' };
  if (current.editedHere) return { action: 'keep', reason: 'staff edited this template after it was imported; it is never overwritten' };
  const same = current.subject === template.subject && current.text === template.text && current.html === template.html;
  return same
    ? { action: 'unchanged', reason: 'already imported from the same letters' }
    : { action: 'update', reason: "imported before and not edited here since; Koha's letters have changed" };
}
