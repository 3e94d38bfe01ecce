/**
 * Print-ready letters as one PDF: one letter a page (more if it is long), A4,
 * the patron's address where the envelope's window shows it, DejaVu Sans
 * embedded (only the glyphs used), labels in the letter's own language.
 */
import type PDFDocument from 'pdfkit';
import { DEFAULT_FONT_DIR, findLetterFonts } from './fonts';
import { graphemes, paginate, wrapText, type Measure, type Weight } from './layout';
import { letterText } from './texts';
import { windowLayoutFor, type WindowLayout } from './windows';

/** pdfkit (with its font engine), loaded on the first letter written, not by every command that loads this module. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const pdfkit = () => require('pdfkit') as typeof PDFDocument;

/** One printed letter, as a run's outputs hand it over. */
export interface Letter {
  messageId: number;
  /** The sending branch: its name first, then its address lines, phone, e-mail. */
  branchLines: string[];
  /** The patron's postal address, one line each, name first. */
  recipientLines: string[];
  /** The notice's date, already formatted the library's way. */
  date: string;
  subject: string;
  body: string;
  /** The letter's language (the patron's) for its own labels and footer; the document's language when absent. */
  lang?: string | null;
  /** The sender line shown above the address in the window; made from the branch lines when absent. */
  returnAddress?: string | null;
}

export interface LettersPdfOptions {
  /** The document's title (shown by PDF readers). */
  title: string;
  /** The document's language, and the letters' where a letter has none. */
  lang: string;
  /** The library's country (ISO 3166 alpha-2): picks the envelope window placing. */
  country?: string | null;
  /** Folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf; Debian's fonts-dejavu-core folder by default. */
  fontDir?: string;
}

const PT_PER_MM = 72 / 25.4;
const pt = (mm: number) => mm * PT_PER_MM;
const PAGE = { widthMm: 210, heightMm: 297 };

/** Type sizes and line distances, in points. */
const TYPE = {
  senderName: { size: 12, leading: 15 },
  senderLine: { size: 9, leading: 11.5 },
  date: { size: 10 },
  returnLine: { size: 7 },
  // Six lines at 12.5 pt make 26.5 mm: inside DIN's 27.3 mm address zone.
  address: { size: 11, leading: 12.5, minSize: 7 },
  subject: { size: 12, leading: 15 },
  body: { size: 11, leading: 15 },
  continued: { size: 10 },
  footer: { size: 8 },
} as const;
const BODY_BOTTOM_MM = 272;
const FOOTER_RULE_MM = 278;
const FOOTER_TOP_MM = 281;
const CONTINUATION_TOP_MM = 20;
const MAX_SENDER_LINES = 6;

/** Renders the letters into one PDF; a letter's pages say "page x of y" counted within that letter. */
export async function renderLettersPdf(letters: Letter[], opts: LettersPdfOptions): Promise<Buffer> {
  const fonts = findLetterFonts(opts.fontDir ?? DEFAULT_FONT_DIR);
  const layout = windowLayoutFor(opts.country);
  const doc = new (pdfkit())({
    size: 'A4',
    margin: 0,
    autoFirstPage: false,
    // Starting on DejaVu keeps pdfkit from adding an unused Helvetica.
    font: fonts.regular,
    lang: opts.lang,
    displayTitle: true,
    info: { Title: opts.title, Producer: 'koha-message-center', Creator: 'koha-message-center' },
  });
  // Chosen by file, not by a registered name: pdfkit caches a font under the name it was asked for, except a
  // registered name whose font it already holds, which it reads and parses again at every call.
  const fontFile: Record<Weight, string> = { regular: fonts.regular, bold: fonts.bold };
  // The writer hands over its output in thousands of tiny pieces: they are joined as they come, so a PDF of
  // thousands of letters keeps about its own size in memory, not ten times that.
  const blocks: Buffer[] = [];
  let chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length >= 512) {
        blocks.push(Buffer.concat(chunks));
        chunks = [];
      }
    });
    doc.on('end', () => {
      resolve(Buffer.concat([...blocks, ...chunks]));
    });
    doc.on('error', reject);
  });
  // The output flows from the next turn on; drawn before it, every piece would wait in the stream's own queue.
  await new Promise((resolve) => setImmediate(resolve));

  // Koha's records may hold names decomposed (a letter, then its accent); composed, they measure, print and copy as one.
  const measure: Measure = (text, weight, size) => doc.font(fontFile[weight]).fontSize(size).widthOfString(text.normalize('NFC'));
  const write = (text: string, xMm: number, topMm: number, weight: Weight, size: number) => {
    if (text) doc.font(fontFile[weight]).fontSize(size).text(text.normalize('NFC'), pt(xMm), pt(topMm), { lineBreak: false });
  };
  const writeRight = (text: string, rightMm: number, topMm: number, weight: Weight, size: number) => {
    write(text, rightMm - measure(text, weight, size) / PT_PER_MM, topMm, weight, size);
  };

  if (!letters.length) doc.addPage();
  for (const letter of letters) drawLetter(letter, { layout, lang: opts.lang, doc, measure, write, writeRight });
  doc.end();
  return done;
}

interface Painter {
  layout: WindowLayout;
  lang: string;
  doc: PDFKit.PDFDocument;
  measure: Measure;
  write: (text: string, xMm: number, topMm: number, weight: Weight, size: number) => void;
  writeRight: (text: string, rightMm: number, topMm: number, weight: Weight, size: number) => void;
}

function drawLetter(letter: Letter, p: Painter): void {
  const { layout, measure, write, writeRight } = p;
  const lang = letter.lang ?? p.lang;
  const left = layout.marginLeftMm;
  const right = PAGE.widthMm - layout.marginRightMm;
  const textWidth = pt(right - left);

  const subjectLines = wrapText(letter.subject, textWidth, 'bold', TYPE.subject.size, measure);
  const firstBodyTopMm = layout.subjectTopMm + (subjectLines.length * TYPE.subject.leading + 8) / PT_PER_MM;
  const linesFrom = (topMm: number) => Math.max(1, Math.floor(pt(BODY_BOTTOM_MM - topMm) / TYPE.body.leading));
  const continuationBodyTopMm = CONTINUATION_TOP_MM + (TYPE.continued.size + 14) / PT_PER_MM;
  const bodyLines = wrapText(letter.body, textWidth, 'regular', TYPE.body.size, measure);
  const pages = paginate(bodyLines, linesFrom(firstBodyTopMm), linesFrom(continuationBodyTopMm));

  pages.forEach((lines, index) => {
    p.doc.addPage({ size: 'A4', margin: 0 });
    let topMm: number;
    if (index === 0) {
      drawFirstPageHead(letter, p, left, right);
      topMm = layout.subjectTopMm;
      for (const line of subjectLines) {
        write(line, left, topMm, 'bold', TYPE.subject.size);
        topMm += TYPE.subject.leading / PT_PER_MM;
      }
      topMm = firstBodyTopMm;
    } else {
      const continued = `${letter.subject} (${letterText(lang, 'continued')})`;
      const [head] = wrapText(continued, textWidth, 'bold', TYPE.continued.size, measure);
      write(head, left, CONTINUATION_TOP_MM, 'bold', TYPE.continued.size);
      topMm = continuationBodyTopMm;
    }
    for (const line of lines) {
      write(line, left, topMm, 'regular', TYPE.body.size);
      topMm += TYPE.body.leading / PT_PER_MM;
    }
    p.doc.moveTo(pt(left), pt(FOOTER_RULE_MM)).lineTo(pt(right), pt(FOOTER_RULE_MM)).lineWidth(0.5).strokeColor('#777777').stroke();
    write(letterText(lang, 'reference', { id: letter.messageId }), left, FOOTER_TOP_MM, 'regular', TYPE.footer.size);
    writeRight(letterText(lang, 'page_of', { page: index + 1, pages: pages.length }), right, FOOTER_TOP_MM, 'regular', TYPE.footer.size);
  });
}

/** The sender branch, the date, the return line, the patron's address and the fold marks. */
function drawFirstPageHead(letter: Letter, p: Painter, left: number, right: number): void {
  const { layout, measure, write, writeRight } = p;
  const [name = '', ...rest] = letter.branchLines.map((l) => l.trim()).filter(Boolean);
  let topMm = layout.senderTopMm;
  write(name, left, topMm, 'bold', TYPE.senderName.size);
  topMm += TYPE.senderName.leading / PT_PER_MM;
  const room = Math.floor(pt(layout.senderBottomMm - topMm) / TYPE.senderLine.leading);
  for (const line of rest.slice(0, Math.min(room, MAX_SENDER_LINES - 1))) {
    write(line, left, topMm, 'regular', TYPE.senderLine.size);
    topMm += TYPE.senderLine.leading / PT_PER_MM;
  }

  writeRight(letter.date, right, layout.dateTopMm, 'regular', TYPE.date.size);

  if (layout.returnLine) {
    const line = fitToWidth(returnAddress(letter), pt(layout.address.widthMm), TYPE.returnLine.size, measure);
    // On the zone's lower edge, as a small line above the address.
    const topOfLine = layout.returnLine.topMm + layout.returnLine.heightMm - TYPE.returnLine.size / PT_PER_MM - 1;
    write(line, layout.returnLine.leftMm, topOfLine, 'regular', TYPE.returnLine.size);
  }

  const address = layout.address;
  const lines = letter.recipientLines.map((l) => l.trim()).filter(Boolean);
  // A long address gets closer lines and smaller type rather than spilling out of the window.
  const leading = Math.min(TYPE.address.leading, pt(address.heightMm) / Math.max(1, lines.length));
  const baseSize = Math.max(TYPE.address.minSize, Math.min(TYPE.address.size, leading * 0.88));
  let lineTop = address.topMm;
  for (const line of lines) {
    let size = baseSize;
    while (size > TYPE.address.minSize && measure(line, 'regular', size) > pt(address.widthMm)) size -= 0.5;
    write(line, address.leftMm, lineTop, 'regular', size);
    lineTop += leading / PT_PER_MM;
  }

  for (const markMm of layout.foldMarksMm) {
    const length = markMm === 148.5 ? 7 : 4;
    p.doc
      .moveTo(pt(4), pt(markMm))
      .lineTo(pt(4 + length), pt(markMm))
      .lineWidth(0.3)
      .strokeColor('#999999')
      .stroke();
  }
}

/**
 * The one-line sender shown in the window: the letter's own, or the branch's
 * name and postal lines (its phone and e-mail lines left out).
 */
function returnAddress(letter: Letter): string {
  if (letter.returnAddress?.trim()) return letter.returnAddress.trim();
  const looksLikeContact = (line: string) => line.includes('@') || /^[+\d\s()./-]+$/.test(line) || /^(tel|phone|telefon)\b/i.test(line);
  return letter.branchLines
    .map((l) => l.trim())
    .filter((l) => l && !looksLikeContact(l))
    .join(' · ');
}

/** Cuts a line with an ellipsis where it would run past `width` points. */
function fitToWidth(text: string, width: number, size: number, measure: Measure): string {
  if (measure(text, 'regular', size) <= width) return text;
  const chars = graphemes(text);
  while (chars.length > 1 && measure(`${chars.join('')}…`, 'regular', size) > width) chars.pop();
  return `${chars.join('')}…`;
}
