/**
 * A whole Koha letter into a sidecar template (subject, text and, for an
 * HTML e-mail, HTML), with the report of what was converted and what was not.
 *
 * - The subject is the letter's `title`; an SMS has none.
 * - An e-mail letter with `is_html` gives the HTML part, and a text part made
 *   from it (tags out); one without gives the text part only, and the sidecar
 *   makes the HTML from the text as it does for its own templates.
 * - A printed letter or an SMS is text: an HTML one loses its tags.
 * - Every part is checked with the same safety check as a template staff
 *   edit here; a part it refuses is not imported (this would be a fault in
 *   the converter, and the report says so).
 */
import { TemplateError } from '../errors';
import { checkNoticeTemplate } from '../rendering';
import { convertLetterSource, templateSource, textFromHtml, type LetterFinding, type Segment } from './convert';
import { letterLabel, letterTarget, type ConvertOptions, type KohaLetterRow, type LetterTarget } from './letters';

export interface ConvertedTemplate {
  subject: string | null;
  text: string;
  html: string | null;
}

/**
 * - `converted`: every piece of the letter has its counterpart (the notes say
 *   where it is close to, not exactly, what Koha shows);
 * - `partly_converted`: some pieces were left out, each with line and reason;
 * - `not_converted`: nothing was imported, for the reason given.
 */
export type ConversionStatus = 'converted' | 'partly_converted' | 'not_converted';

export interface ConversionResult {
  /** The letter as Koha names it: module/code (transport, language, branch). */
  letter: string;
  code: string;
  status: ConversionStatus;
  /** Why nothing was imported (not_converted only). */
  reason: string | null;
  /** Where the template goes; null when not converted. */
  target: LetterTarget | null;
  template: ConvertedTemplate | null;
  /** Pieces left out: the line in the letter and why. */
  problems: LetterFinding[];
  /** Pieces converted with a difference worth knowing. */
  notes: LetterFinding[];
}

/** The template parts as pieces, for joining several letters into one template. */
export interface ConvertedPieces {
  subject: Segment[] | null;
  text: Segment[];
  html: Segment[] | null;
}

const NOTE_SINGLE_ITEM =
  "Koha sends this letter about one item; here the item's fields show the notice's first item (items[0]), and a notice about several items lists only the first unless the template loops over items";
const NOTE_TEXT_FROM_HTML = 'the text part is the HTML with its tags taken out';

export function convertKohaLetter(letter: KohaLetterRow, options: ConvertOptions): ConversionResult {
  return convertWithPieces(letter, options).result;
}

/** The conversion and, when there is one, its template as pieces. */
export function convertWithPieces(
  letter: KohaLetterRow,
  options: ConvertOptions,
): { result: ConversionResult; pieces: ConvertedPieces | null } {
  const label = letterLabel(letter);
  const notConverted = (reason: string, target: LetterTarget | null = null) => ({
    result: { letter: label, code: letter.code, status: 'not_converted' as const, reason, target, template: null, problems: [], notes: [] },
    pieces: null,
  });
  const target = letterTarget(letter, options);
  if ('refused' in target) return notConverted(target.refused);
  if (!letter.content || !letter.content.trim()) return notConverted('the letter has no content');

  const isHtml = Boolean(Number(letter.is_html));
  const content = convertLetterSource(letter.content, 'content', target, isHtml);
  const subject = target.channel === 'sms' ? null : convertLetterSource(letter.title ?? '', 'subject', target, false);
  const problems = [...(subject?.problems ?? []), ...content.problems];
  const notes = [...(subject?.notes ?? []), ...content.notes];

  let pieces: ConvertedPieces;
  if (isHtml && target.channel === 'email') {
    pieces = { subject: subject?.segments ?? null, text: textFromHtml(content.segments), html: content.segments };
  } else {
    pieces = { subject: subject?.segments ?? null, text: isHtml ? textFromHtml(content.segments) : content.segments, html: null };
  }
  if (isHtml) notes.push({ part: 'content', line: 1, piece: '', reason: NOTE_TEXT_FROM_HTML });
  const template = templateOf(pieces);
  if (target.singleItem && [template.subject, template.text, template.html].some((p) => p?.includes('items[0]'))) {
    notes.push({ part: 'content', line: 1, piece: '', reason: NOTE_SINGLE_ITEM });
  }
  if (!template.text.trim()) return notConverted('nothing of the letter could be converted', target);
  const refused = refusedPart(template, label);
  if (refused) return notConverted(refused, target);
  return {
    result: {
      letter: label,
      code: letter.code,
      status: problems.length ? 'partly_converted' : 'converted',
      reason: null,
      target,
      template,
      problems,
      notes,
    },
    pieces,
  };
}

export function templateOf(pieces: ConvertedPieces): ConvertedTemplate {
  // The renderer makes a subject one line; an empty one is no subject.
  const subject = pieces.subject ? templateSource(pieces.subject).replace(/\s+/g, ' ').trim() : '';
  return {
    subject: subject || null,
    text: templateSource(pieces.text),
    html: pieces.html ? templateSource(pieces.html) : null,
  };
}

/** The safety check's verdict on each part: the reason of the first refusal, or null. */
export function refusedPart(template: ConvertedTemplate, name: string): string | null {
  const parts: Array<[string, string | null]> = [
    ['subject', template.subject],
    ['text', template.text],
    ['html', template.html],
  ];
  for (const [part, source] of parts) {
    if (source === null) continue;
    try {
      checkNoticeTemplate(source, `${name} ${part}`);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      return `the converted ${part} was refused by the template safety check (${err.message}); please report this`;
    }
  }
  return null;
}
