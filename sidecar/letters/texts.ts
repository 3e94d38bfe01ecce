/**
 * The letters' own words: labels and footers printed on a letter, in the
 * letter's language (the patron's), not the staff member's. Kept here, apart
 * from the staff pages' catalogues, because a letter is read by the patron.
 */

export const LETTER_TEXT_KEYS = ['page_of', 'continued', 'reference', 'title'] as const;
export type LetterTextKey = (typeof LETTER_TEXT_KEYS)[number];

type LetterCatalogue = Record<LetterTextKey, string>;

export const LETTER_TEXTS = {
  en: { page_of: 'Page {page} of {pages}', continued: 'continued', reference: 'Message {id}', title: 'Letters' },
  sv: { page_of: 'Sida {page} av {pages}', continued: 'fortsättning', reference: 'Meddelande {id}', title: 'Brev' },
  da: { page_of: 'Side {page} af {pages}', continued: 'fortsat', reference: 'Meddelelse {id}', title: 'Breve' },
  nb: { page_of: 'Side {page} av {pages}', continued: 'fortsettelse', reference: 'Melding {id}', title: 'Brev' },
  de: { page_of: 'Seite {page} von {pages}', continued: 'Fortsetzung', reference: 'Nachricht {id}', title: 'Briefe' },
  fi: { page_of: 'Sivu {page}/{pages}', continued: 'jatkoa', reference: 'Viesti {id}', title: 'Kirjeet' },
} satisfies Record<string, LetterCatalogue>;

export type LetterLanguage = keyof typeof LETTER_TEXTS;
export const LETTER_LANGUAGES = Object.keys(LETTER_TEXTS) as LetterLanguage[];

function isLetterLanguage(code: string): code is LetterLanguage {
  return Object.hasOwn(LETTER_TEXTS, code);
}

/**
 * The catalogue for a language code as Koha writes it (`sv-SE`, `de`, `nb-NO`);
 * Norwegian `no`/`nn` read as `nb`; anything unknown falls back to English.
 */
export function letterLanguage(code: string | null | undefined): LetterLanguage {
  const base = (code ?? '').trim().toLowerCase().split(/[-_]/)[0];
  if (base === 'no' || base === 'nn') return 'nb';
  return isLetterLanguage(base) ? base : 'en';
}

/** One label in the letter's language, with `{name}` placeholders filled. */
export function letterText(lang: string | null | undefined, key: LetterTextKey, values: Record<string, string | number> = {}): string {
  const template: string = LETTER_TEXTS[letterLanguage(lang)][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}
