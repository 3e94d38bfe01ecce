/**
 * Texts of the English catalogue found on a page shown in another language.
 * A text counts only where the other catalogue words it differently; a text
 * with values (`{name}`) is looked for by its fixed parts, and parts too short
 * to mean anything alone (a word under five letters) are not looked for, so
 * names and data on the page do not count as English.
 */
import { catalogue, type PageLang } from '../../sidecar/web/i18n';

function fragmentsOf(text: string): string[] {
  return text
    .split(/\{\w+\}/)
    .map((f) =>
      f
        .replace(/\s+/g, ' ')
        .trim()
        .replace(/^[\s:,.;()–-]+|[\s:,.;()–-]+$/g, ''),
    )
    .filter((f) => f.length >= 5 && /\p{L}{3}/u.test(f));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The English texts (key: fragment) found in `pageText`, a page shown in `lang`. */
export function englishLeaks(pageText: string, lang: PageLang): string[] {
  const en = catalogue('en') as Record<string, string>;
  const other = catalogue(lang) as Record<string, string>;
  const allOther = Object.values(other).join('\n');
  const text = pageText.replace(/\s+/g, ' ');
  const leaks: string[] = [];
  for (const [key, english] of Object.entries(en)) {
    if (other[key] === english) continue;
    for (const fragment of fragmentsOf(english)) {
      // A fixed part the other language shares (a product name, "SMS") is no leak.
      if (allOther.includes(fragment)) continue;
      if (new RegExp(`(?<![\\p{L}\\p{N}])${escapeRe(fragment)}(?![\\p{L}\\p{N}])`, 'u').test(text)) leaks.push(`${key}: ${fragment}`);
    }
  }
  return leaks;
}
