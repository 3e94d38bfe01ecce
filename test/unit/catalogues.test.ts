/**
 * The staff pages' catalogues are whole: every language has every key of the
 * English reference, no key English lacks, no empty text, and the same values
 * (`{name}`) in each text. To add a text: give the key its English wording in
 * sidecar/web/i18n/en.ts and the same key in every other catalogue there
 * (sv.ts, da.ts, de.ts); this test names any key a language lacks.
 */
import { expect } from 'chai';
import { PAGE_LANGS, catalogue } from '../../sidecar/web/i18n';

const valuesOf = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the language catalogues of the staff pages', () => {
  const en = catalogue('en') as Record<string, string>;

  it('has pages in English, Swedish, Danish and German', () => {
    expect([...PAGE_LANGS]).to.have.members(['en', 'sv', 'da', 'de']);
  });

  for (const lang of PAGE_LANGS.filter((l) => l !== 'en')) {
    describe(lang, () => {
      const texts = catalogue(lang) as Record<string, string>;

      it('has every key of the English catalogue', () => {
        expect(
          Object.keys(en).filter((k) => !Object.hasOwn(texts, k)),
          `keys missing in sidecar/web/i18n/${lang}.ts`,
        ).to.deep.equal([]);
      });

      it('has no key the English catalogue lacks', () => {
        expect(
          Object.keys(texts).filter((k) => !Object.hasOwn(en, k)),
          `keys only in sidecar/web/i18n/${lang}.ts`,
        ).to.deep.equal([]);
      });

      it('has a text for every key, with the same values as the English one', () => {
        const wrong = Object.keys(en).filter(
          (k) => Object.hasOwn(texts, k) && (texts[k].trim() === '' || valuesOf(texts[k]).join() !== valuesOf(en[k]).join()),
        );
        expect(wrong, `empty texts or other {values} than English in sidecar/web/i18n/${lang}.ts`).to.deep.equal([]);
      });
    });
  }

  it('has a text for every key in English', () => {
    expect(Object.keys(en).filter((k) => en[k].trim() === '')).to.deep.equal([]);
  });
});
