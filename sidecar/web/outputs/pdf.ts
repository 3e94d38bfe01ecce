/**
 * A small PDF writer for print-ready letters: text only, A4, the standard
 * Helvetica fonts every PDF reader has (nothing embedded), WinAnsi encoding,
 * which covers the letters of the libraries' languages (å ä ö ü ø æ é ß …).
 * A character outside WinAnsi prints as "?".
 *
 * Enough of PDF 1.4 to be read everywhere: a catalog, a page tree, two font
 * resources, one content stream per page, a cross-reference table.
 */

export const A4 = { width: 595.28, height: 841.89 };

/** Unicode characters WinAnsi places in 0x80-0x9F (the rest of 0xA0-0xFF is Latin-1). */
const WIN_ANSI_HIGH = new Map<string, number>(
  Object.entries({
    '€': 0x80,
    '‚': 0x82,
    ƒ: 0x83,
    '„': 0x84,
    '…': 0x85,
    '†': 0x86,
    '‡': 0x87,
    ˆ: 0x88,
    '‰': 0x89,
    Š: 0x8a,
    '‹': 0x8b,
    Œ: 0x8c,
    Ž: 0x8e,
    '‘': 0x91,
    '’': 0x92,
    '“': 0x93,
    '”': 0x94,
    '•': 0x95,
    '–': 0x96,
    '—': 0x97,
    '˜': 0x98,
    '™': 0x99,
    š: 0x9a,
    '›': 0x9b,
    œ: 0x9c,
    ž: 0x9e,
    Ÿ: 0x9f,
  }),
);

/** Helvetica advance widths (1/1000 em) of the printable ASCII characters 32-126, from the font's metrics. */
const ASCII_WIDTHS = [
  278,
  278,
  355,
  556,
  556,
  889,
  667,
  191,
  333,
  333,
  389,
  584,
  278,
  333,
  278,
  278, // space ! " # $ % & ' ( ) * + , - . /
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  278,
  278,
  584,
  584,
  584,
  556, // 0-9 : ; < = > ?
  1015,
  667,
  667,
  722,
  722,
  667,
  611,
  778,
  722,
  278,
  500,
  667,
  556,
  833,
  722,
  778, // @ A-O
  667,
  778,
  722,
  667,
  611,
  722,
  667,
  944,
  667,
  667,
  611,
  278,
  278,
  278,
  469,
  556, // P-Z [ \ ] ^ _
  333,
  556,
  556,
  500,
  556,
  556,
  278,
  556,
  556,
  222,
  222,
  500,
  222,
  833,
  556,
  556, // ` a-o
  556,
  556,
  333,
  500,
  278,
  556,
  500,
  722,
  500,
  500,
  500,
  334,
  260,
  334,
  584, // p-z { | } ~
];
/** Widths of 0xA0-0xFF. */
const LATIN1_WIDTHS = [
  278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365,
  556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778,
  778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556,
  556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];
const HIGH_WIDTHS: Record<number, number> = {
  0x80: 556,
  0x82: 222,
  0x83: 556,
  0x84: 333,
  0x85: 1000,
  0x86: 556,
  0x87: 556,
  0x88: 333,
  0x89: 1000,
  0x8a: 667,
  0x8b: 333,
  0x8c: 1000,
  0x8e: 611,
  0x91: 222,
  0x92: 222,
  0x93: 333,
  0x94: 333,
  0x95: 350,
  0x96: 556,
  0x97: 1000,
  0x98: 333,
  0x99: 1000,
  0x9a: 500,
  0x9b: 333,
  0x9c: 944,
  0x9e: 500,
  0x9f: 667,
};
/** Bold letters run wider; wrapping with this margin keeps bold lines inside the page. */
const BOLD_FACTOR = 1.1;

/** Text as WinAnsi bytes; what WinAnsi cannot say becomes "?". */
export function toWinAnsi(text: string): number[] {
  const out: number[] = [];
  for (const ch of text.normalize('NFC')) {
    const code = ch.codePointAt(0) ?? 0;
    const high = WIN_ANSI_HIGH.get(ch);
    if (ch === '\t') out.push(0x20);
    else if (code >= 0x20 && code <= 0x7e) out.push(code);
    else if (code >= 0xa0 && code <= 0xff) out.push(code);
    else if (high !== undefined) out.push(high);
    else if (code >= 0x20) out.push(0x3f);
  }
  return out;
}

function byteWidth(b: number): number {
  if (b >= 0x20 && b <= 0x7e) return ASCII_WIDTHS[b - 0x20];
  if (b >= 0xa0) return LATIN1_WIDTHS[b - 0xa0];
  return HIGH_WIDTHS[b] ?? 556;
}

export function textWidth(text: string, size: number, bold = false): number {
  let units = 0;
  for (const b of toWinAnsi(text)) units += byteWidth(b);
  return (units * size * (bold ? BOLD_FACTOR : 1)) / 1000;
}

/** A PDF string literal: parentheses and backslashes escaped, everything outside ASCII as octal. */
function pdfString(bytes: number[]): string {
  let s = '(';
  for (const b of bytes) {
    if (b === 0x28 || b === 0x29 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) s += `\\${b.toString(8).padStart(3, '0')}`;
    else s += String.fromCharCode(b);
  }
  return `${s})`;
}

/** Breaks text into lines no wider than `width`; a word too long for a line is broken where it must be. */
export function wrapText(text: string, width: number, size: number, bold = false): string[] {
  const lines: string[] = [];
  for (const paragraph of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (!paragraph.trim()) {
      lines.push('');
      continue;
    }
    let line = '';
    for (const word of paragraph.split(/ +/)) {
      const candidate = line ? `${line} ${word}` : word;
      if (textWidth(candidate, size, bold) <= width) {
        line = candidate;
        continue;
      }
      if (line) lines.push(line);
      line = word;
      while (textWidth(line, size, bold) > width && line.length > 1) {
        let cut = line.length - 1;
        while (cut > 1 && textWidth(line.slice(0, cut), size, bold) > width) cut -= 1;
        lines.push(line.slice(0, cut));
        line = line.slice(cut);
      }
    }
    lines.push(line);
  }
  return lines;
}

export interface TextOptions {
  size?: number;
  bold?: boolean;
}

/** One page being written: absolute text placement, top-down coordinates for convenience. */
export class PdfPage {
  readonly ops: string[] = [];

  /** Writes one line with its baseline `top` points below the top edge. */
  text(x: number, top: number, text: string, opts: TextOptions = {}): void {
    const size = opts.size ?? 11;
    const y = A4.height - top;
    this.ops.push(`BT /${opts.bold ? 'F2' : 'F1'} ${size} Tf ${x.toFixed(2)} ${y.toFixed(2)} Td ${pdfString(toWinAnsi(text))} Tj ET`);
  }

  /** Right-aligned at `right`. */
  textRight(right: number, top: number, text: string, opts: TextOptions = {}): void {
    this.text(right - textWidth(text, opts.size ?? 11, opts.bold), top, text, opts);
  }

  line(x1: number, top1: number, x2: number, top2: number): void {
    this.ops.push(`0.6 w ${x1.toFixed(2)} ${(A4.height - top1).toFixed(2)} m ${x2.toFixed(2)} ${(A4.height - top2).toFixed(2)} l S`);
  }
}

export class PdfDocument {
  private readonly pages: PdfPage[] = [];

  constructor(private readonly info: { title?: string } = {}) {}

  addPage(): PdfPage {
    const page = new PdfPage();
    this.pages.push(page);
    return page;
  }

  get pageCount(): number {
    return this.pages.length;
  }

  toBuffer(): Buffer {
    // A document needs at least one page.
    if (!this.pages.length) this.addPage();
    const objects: string[] = [];
    const add = (body: string): number => {
      objects.push(body);
      return objects.length;
    };
    const catalog = add('');
    const pageTree = add('');
    const regular = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
    const bold = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>');
    const infoObj = add(
      `<< /Producer (koha-message-center)${this.info.title ? ` /Title ${pdfString(toWinAnsi(this.info.title))}` : ''} >>`,
    );
    const kids: number[] = [];
    for (const page of this.pages) {
      const stream = page.ops.join('\n');
      const content = add(`<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`);
      kids.push(
        add(
          `<< /Type /Page /Parent ${pageTree} 0 R /MediaBox [0 0 ${A4.width} ${A4.height}] ` +
            `/Resources << /Font << /F1 ${regular} 0 R /F2 ${bold} 0 R >> >> /Contents ${content} 0 R >>`,
        ),
      );
    }
    objects[catalog - 1] = `<< /Type /Catalog /Pages ${pageTree} 0 R >>`;
    objects[pageTree - 1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;

    // Everything above is ASCII, so character offsets are byte offsets.
    let out = '%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n';
    const offsets: number[] = [];
    objects.forEach((body, i) => {
      offsets.push(Buffer.byteLength(out, 'latin1'));
      out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    });
    const xref = Buffer.byteLength(out, 'latin1');
    out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
    for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
    out += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R /Info ${infoObj} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
    return Buffer.from(out, 'latin1');
  }
}
