/**
 * The staff pages' message catalogues. Every word on a page comes from here;
 * English is the reference, and every other catalogue has exactly its keys
 * (the type system and test/unit/catalogues.test.ts both check that). To add
 * a text, give its key the English wording in en.ts and the same key in
 * sv.ts, da.ts and de.ts.
 */
import { en, type MessageKey } from './en';
import { sv } from './sv';
import { da } from './da';
import { de } from './de';

export type { MessageKey };
export const PAGE_LANGS = ['en', 'sv', 'da', 'de'] as const;
export type PageLang = (typeof PAGE_LANGS)[number];

const CATALOGUES: Record<PageLang, Record<MessageKey, string>> = { en, sv, da, de };

export type Translate = (key: string, params?: Record<string, unknown>) => string;

export function isPageLang(v: unknown): v is PageLang {
  return typeof v === 'string' && (PAGE_LANGS as readonly string[]).includes(v);
}

/** The first of the given languages (Koha's `sv-SE`, `sv`, `en` ...) we have pages in, else English. */
export function pickPageLang(...candidates: Array<string | null | undefined>): PageLang {
  for (const c of candidates) {
    if (!c) continue;
    for (const part of c.split(',')) {
      const code = part.trim().split(';')[0].split(/[-_]/)[0].toLowerCase();
      if (isPageLang(code)) return code;
    }
  }
  return 'en';
}

export function catalogue(lang: PageLang): Record<MessageKey, string> {
  return CATALOGUES[lang];
}

export function isMessageKey(key: unknown): key is MessageKey {
  return typeof key === 'string' && Object.hasOwn(en, key);
}

/**
 * A translator for one language. `{name}` in a text is replaced by the
 * parameter of that name; an unknown key shows as itself so it is noticed.
 */
/** A parameter as it appears in a text: numbers and words as they are, nothing for null. */
function paramText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);
}

export function translator(lang: PageLang): Translate {
  const texts = CATALOGUES[lang] as Record<string, string>;
  return (key, params) => {
    // Own keys only: a key such as "constructor" must not reach Object's prototype.
    const text = Object.hasOwn(texts, key) ? texts[key] : Object.hasOwn(en, key) ? (en as Record<string, string>)[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? paramText(params[name]) : whole));
  };
}
