/**
 * An SMS about one loan names its title; a long title would make the text
 * cost two or more SMS (the patron's phone joins them, the library pays for
 * each). So when one item's title pushes the text past one part (160 GSM
 * characters, or 70 when the text needs UCS-2), the title is shortened,
 * ending in "...", until the text fits. When it cannot fit even with a short
 * title, the full title stays: a cut title that saves nothing helps no one.
 */
import { segmentInfo } from '../channels';

/** Below this many characters a title no longer says which book is meant. */
export const SMS_TITLE_MIN_CHARS = 12;
const ELLIPSIS = '...';

/** A title cut to at most `max` characters (whole code points), at a word break when one is near, ending in "...". */
export function shortenTitle(title: string, max: number): string {
  const chars = Array.from(title.trim());
  if (chars.length <= max) return title.trim();
  const keep = Math.max(1, max - ELLIPSIS.length);
  let cut = chars.slice(0, keep).join('');
  const space = cut.lastIndexOf(' ');
  if (space >= keep * 0.6) cut = cut.slice(0, space);
  return cut.replace(/[\s,.;:/-]+$/u, '') + ELLIPSIS;
}

function onlyTitle(data: Record<string, unknown>): string | null {
  const items = data.items;
  if (!Array.isArray(items) || items.length !== 1) return null;
  const first: unknown = items[0];
  if (typeof first !== 'object' || first === null) return null;
  const title = (first as Record<string, unknown>).title;
  return typeof title === 'string' && title.trim() ? title : null;
}

function withTitle(data: Record<string, unknown>, title: string): Record<string, unknown> {
  const [first] = data.items as Array<Record<string, unknown>>;
  return { ...data, items: [{ ...first, title }] };
}

/** The rendered SMS, with its one item's title shortened where that keeps it to one part. */
export function fitSmsToOnePart<R extends { text: string }>(
  rendered: R,
  data: Record<string, unknown>,
  renderWith: (data: Record<string, unknown>) => R,
): R {
  const title = onlyTitle(data);
  if (title === null || segmentInfo(rendered.text.trim()).parts <= 1) return rendered;
  if (!rendered.text.includes(title)) return rendered; // the template does not name the title: nothing to shorten
  let max = Array.from(title).length;
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const shorter = renderWith(withTitle(data, shortenTitle(title, max)));
    const info = segmentInfo(shorter.text.trim());
    const limit = info.encoding === 'gsm7' ? 160 : 70;
    if (info.parts <= 1) return shorter;
    if (max <= SMS_TITLE_MIN_CHARS) break;
    max = Math.max(SMS_TITLE_MIN_CHARS, Math.min(max - 1, max - (info.units - limit)));
  }
  return rendered;
}
