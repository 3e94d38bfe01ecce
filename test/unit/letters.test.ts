import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import {
  DIN_5008_B,
  LETTER_LANGUAGES,
  LETTER_TEXTS,
  LETTER_TEXT_KEYS,
  NORDIC_WINDOW,
  letterLanguage,
  letterText,
  paginate,
  renderLettersPdf,
  windowLayoutFor,
  wrapText,
  type Letter,
} from '../../sidecar/letters';
import { SettingsError } from '../../sidecar/errors';

const MM_PER_PT = 25.4 / 72;

interface PlacedText {
  str: string;
  /** Left edge of the text, mm from the sheet's left edge. */
  leftMm: number;
  /** Top of the line (baseline less the font's ascent), mm from the sheet's top edge. */
  topMm: number;
}

/** Every text run of every page with its place, read back by a real PDF reader (Mozilla's pdf.js). */
async function readPdf(pdf: Buffer): Promise<PlacedText[][]> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, isEvalSupported: false }).promise;
  const pages: PlacedText[][] = [];
  for (let n = 1; n <= doc.numPages; n++) {
    const page = await doc.getPage(n);
    const heightPt = page.view[3] - page.view[1];
    const content = await page.getTextContent();
    const placed: PlacedText[] = [];
    for (const item of content.items) {
      if (!('str' in item) || !item.str.trim()) continue;
      const [, , c, d, x, y] = item.transform as number[];
      const size = Math.hypot(c, d);
      const ascent = content.styles[item.fontName].ascent;
      placed.push({ str: item.str, leftMm: x * MM_PER_PT, topMm: (heightPt - (y + ascent * size)) * MM_PER_PT });
    }
    pages.push(placed);
  }
  await doc.destroy();
  return pages;
}

const pageText = (page: PlacedText[]) => page.map((t) => t.str).join('\n');

const letter = (over: Partial<Letter> = {}): Letter => ({
  messageId: 4711,
  branchLines: ['Stadtbibliothek Mitte', 'Hauptstraße 1', '10115 Berlin', '+49 30 123456', 'mitte@bibliothek.example'],
  recipientLines: ['Łukasz Wiśniewski', 'Gartenweg 5', '10117 Berlin'],
  date: '16.11.2026',
  subject: 'Erinnerung: Rückgabe überfällig',
  body: 'Guten Tag,\n\nbitte geben Sie die folgenden Medien zurück.\n\nMit freundlichen Grüßen\nIhre Bibliothek',
  lang: 'de',
  ...over,
});

describe('letters: print-ready PDF with an embedded Unicode font', function () {
  this.timeout(30000);

  it('prints every patron name, whatever its script, and embeds only a subset of DejaVu Sans', async () => {
    const names = ['Łukasz Wiśniewski', 'Áŋŋá Ŋuvttos', 'Őri Győző', 'Анна Кузнецова', 'Åsa Öberg Ærø'];
    const pdf = await renderLettersPdf(
      names.map((name, i) => letter({ messageId: i + 1, recipientLines: [name, 'Storgatan 1', '123 45 Småstad'], body: `Hej ${name}!` })),
      { title: 'Letters', lang: 'sv', country: 'se' },
    );
    const pages = await readPdf(pdf);
    expect(pages).to.have.length(names.length);
    names.forEach((name, i) => {
      const text = pageText(pages[i]);
      expect(text, `page ${i + 1}`).to.include(name);
      expect(text).to.include(`Hej ${name}!`);
    });
    const raw = pdf.toString('latin1');
    // A subset font's name carries a six-letter tag: ABCDEF+DejaVuSans.
    expect(raw).to.match(/\/BaseFont \/[A-Z]{6}\+DejaVuSans\b/);
    expect(raw).to.match(/\/BaseFont \/[A-Z]{6}\+DejaVuSans-Bold\b/);
    expect(raw).not.to.include('/Helvetica');
    // The whole DejaVu Sans is about 740 KB; five short letters with a subset stay far below that.
    expect(pdf.length).to.be.lessThan(80_000);
  });

  it('places the address of a German letter in the DIN 5008 form B window (25 mm from the left, 62.7 mm from the top)', async () => {
    const pdf = await renderLettersPdf([letter()], { title: 'Briefe', lang: 'de', country: 'DE' });
    const [page] = await readPdf(pdf);
    const first = page.find((t) => t.str.startsWith('Łukasz'));
    expect(first, 'the recipient line').to.not.equal(undefined);
    expect(first!.leftMm).to.be.closeTo(25, 1);
    expect(first!.topMm).to.be.closeTo(62.7, 1);
    // The return line sits in the window above the address, within the field's first 5 mm (45-50 mm).
    const returnLine = page.find((t) => t.str.startsWith('Stadtbibliothek Mitte ·'));
    expect(returnLine, 'the return line').to.not.equal(undefined);
    expect(returnLine!.str).to.not.include('@');
    expect(returnLine!.topMm).to.be.within(45, 50);
    expect(returnLine!.leftMm).to.be.closeTo(25, 1);
    // Every address line stays inside the 45 mm high field, whose address zone ends 90 mm down.
    const last = page.find((t) => t.str === '10117 Berlin');
    expect(last!.topMm).to.be.lessThan(90 - 4);
  });

  it('places the address of a Swedish letter in the Nordic window (20 mm from the left, 45 mm from the top)', async () => {
    const pdf = await renderLettersPdf([letter({ lang: 'sv', recipientLines: ['Åsa Öberg', 'Storgatan 1', '123 45 Småstad'] })], {
      title: 'Brev',
      lang: 'sv',
      country: 'SE',
    });
    const [page] = await readPdf(pdf);
    const first = page.find((t) => t.str === 'Åsa Öberg');
    expect(first, 'the recipient line').to.not.equal(undefined);
    expect(first!.leftMm).to.be.closeTo(20, 1);
    expect(first!.topMm).to.be.closeTo(45, 1);
    // Nordic letters have no return line in the window, and nothing else printed in the window's band.
    const inWindow = page.filter((t) => t.topMm >= 39 && t.topMm < 79 && t.leftMm < 115);
    expect(inWindow.map((t) => t.str)).to.deep.equal(['Åsa Öberg', 'Storgatan 1', '123 45 Småstad']);
  });

  it('continues a long letter over following pages with the subject repeated and "page x of y" in the letter\'s language', async () => {
    const body = Array.from({ length: 100 }, (_, i) => `Zeile ${i + 1} des Briefes.`).join('\n');
    const pdf = await renderLettersPdf(
      [
        letter({ lang: 'en', subject: 'Overdue items', body }),
        letter({ messageId: 4712, lang: 'sv', subject: 'Påminnelse', body: 'Kort brev.' }),
      ],
      { title: 'Letters', lang: 'de', country: 'de' },
    );
    const pages = await readPdf(pdf);
    expect(pages).to.have.length(4);
    for (let i = 0; i < 3; i++) {
      const text = pageText(pages[i]);
      expect(text, `page ${i + 1}`).to.include('Overdue items');
      expect(text).to.include(`Page ${i + 1} of 3`);
      expect(text).to.include('Message 4711');
    }
    expect(pageText(pages[1])).to.include('Overdue items (continued)');
    expect(pageText(pages[2])).to.include('Zeile 100 des Briefes.');
    // Every body line printed once, in order, none lost between pages.
    const bodyLines = pages.slice(0, 3).flatMap((p) => p.filter((t) => t.str.startsWith('Zeile ')).map((t) => t.str));
    expect(bodyLines).to.deep.equal(body.split('\n'));
    // The next letter starts on its own page and counts its own pages, in its own language.
    expect(pageText(pages[3])).to.include('Påminnelse');
    expect(pageText(pages[3])).to.include('Sida 1 av 1');
    expect(pageText(pages[3])).to.include('Meddelande 4712');
  });

  it('prints a name stored decomposed (letter, then accent) as the composed name', async () => {
    const decomposed = 'Wis\u0301niewski Zo\u0308e';
    const pages = await readPdf(
      await renderLettersPdf([letter({ recipientLines: [decomposed, 'Gartenweg 5'] })], { title: 'x', lang: 'de', country: 'de' }),
    );
    expect(pageText(pages[0])).to.include('Wiśniewski Zöe');
  });

  it('says which Debian package to install when the font is missing', async () => {
    try {
      await renderLettersPdf([letter()], { title: 'x', lang: 'en', fontDir: '/nonexistent/fonts' });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(SettingsError);
      expect((err as Error).message).to.include('fonts-dejavu-core');
      expect((err as Error).message).to.include('/nonexistent/fonts/DejaVuSans.ttf');
    }
  });

  it('reads each font file once for a whole run of letters, not at every line it writes', async () => {
    // Reading and parsing DejaVu Sans (700 KB) again for every line made a run of 1,700 letters take minutes.
    const reads: string[] = [];
    const original = fs.readFileSync;
    const counting = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (typeof file === 'string' && file.endsWith('.ttf')) reads.push(path.basename(file));
      return (original as (...a: unknown[]) => unknown)(file, ...rest);
    }) as typeof fs.readFileSync;
    fs.readFileSync = counting;
    let pdf: Buffer;
    try {
      pdf = await renderLettersPdf(
        Array.from({ length: 20 }, (_, i) => letter({ messageId: i + 1 })),
        { title: 'x', lang: 'en' },
      );
    } finally {
      fs.readFileSync = original;
    }
    expect(reads.sort()).to.deep.equal(['DejaVuSans-Bold.ttf', 'DejaVuSans.ttf']);
    expect(await readPdf(pdf)).to.have.length(20);
  });

  it('writes a valid one-page document when there are no letters', async () => {
    const pages = await readPdf(await renderLettersPdf([], { title: 'Empty', lang: 'en' }));
    expect(pages).to.have.length(1);
  });
});

describe('letters: window placing by country', () => {
  it('takes DIN 5008 form B for Germany, Austria and Switzerland and the Nordic window elsewhere', () => {
    for (const c of ['de', 'AT', ' ch ']) expect(windowLayoutFor(c), c).to.equal(DIN_5008_B);
    for (const c of ['se', 'DK', 'no', 'fi', 'gb', '', null, undefined]) expect(windowLayoutFor(c), String(c)).to.equal(NORDIC_WINDOW);
  });

  it('keeps the DIN address field at 20/45 mm, 85 x 45 mm, with the address zone 17.7 mm down', () => {
    expect(DIN_5008_B.address.leftMm - 5).to.equal(20);
    expect(DIN_5008_B.address.topMm).to.be.closeTo(45 + 17.7, 1e-9);
    expect(DIN_5008_B.address.topMm + DIN_5008_B.address.heightMm).to.be.closeTo(45 + 45, 1e-9);
    expect(DIN_5008_B.address.widthMm + 5).to.equal(85);
  });
});

describe('letters: texts in the letter language', () => {
  it('has every key in every language', () => {
    for (const lang of LETTER_LANGUAGES) {
      expect(Object.keys(LETTER_TEXTS[lang]).sort(), lang).to.deep.equal([...LETTER_TEXT_KEYS].sort());
    }
    expect(LETTER_LANGUAGES).to.include.members(['en', 'sv', 'da', 'de']);
  });

  it('reads Koha language codes and falls back to English', () => {
    expect(letterLanguage('sv-SE')).to.equal('sv');
    expect(letterLanguage('nb-NO')).to.equal('nb');
    expect(letterLanguage('nn')).to.equal('nb');
    expect(letterLanguage('de_DE')).to.equal('de');
    expect(letterLanguage('xx')).to.equal('en');
    expect(letterLanguage(null)).to.equal('en');
    expect(letterText('da', 'page_of', { page: 2, pages: 3 })).to.equal('Side 2 af 3');
    expect(letterText('de-AT', 'reference', { id: 7 })).to.equal('Nachricht 7');
  });
});

describe('letters: lines and pages', () => {
  const measure = (text: string, _weight: string, size: number) => text.length * size * 0.5;

  it('wraps at spaces within the width, keeps blank lines, and cuts a word too long for a line', () => {
    const lines = wrapText('aaa bbb ccc\n\nddddddddddddddddddddd', 40, 'regular', 10, measure);
    for (const line of lines) expect(measure(line, 'regular', 10)).to.be.at.most(40);
    expect(lines).to.deep.equal(['aaa bbb', 'ccc', '', 'dddddddd', 'dddddddd', 'ddddd']);
  });

  it('never cuts an accent from its letter when a long word must be cut', () => {
    const word = 'e\u0301'.repeat(12);
    const lines = wrapText(word, 40, 'regular', 10, measure);
    expect(lines.length).to.be.greaterThan(1);
    for (const line of lines) expect(line.startsWith('\u0301')).to.equal(false);
    expect(lines.join('')).to.equal(word);
  });

  it("keeps a paragraph's indent on all its lines", () => {
    expect(wrapText('Items:\n  Book one\n  Book two of many pages', 100, 'regular', 10, measure)).to.deep.equal([
      'Items:',
      '  Book one',
      '  Book two of many',
      '  pages',
    ]);
  });

  it('fills the first page, then the later ones, and starts no page with a blank line', () => {
    expect(paginate(['1', '2', '3', '', '4', '5'], 3, 2)).to.deep.equal([
      ['1', '2', '3'],
      ['4', '5'],
    ]);
    expect(paginate([], 3, 2)).to.deep.equal([[]]);
  });
});
