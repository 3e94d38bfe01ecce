/**
 * How a letter's text falls into lines and pages, apart from drawing it, so
 * that every page can say "page 2 of 3" when it is drawn.
 */

export type Weight = 'regular' | 'bold';
/** The width in points of a text in a weight and size. */
export type Measure = (text: string, weight: Weight, size: number) => number;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The characters of a text as a reader sees them: a letter with its accents stays whole. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/**
 * Breaks text into lines no wider than `width` points: at spaces, keeping the
 * writer's own line breaks and blank lines; a word too long for a line is cut
 * where it must be.
 */
export function wrapText(text: string, width: number, weight: Weight, size: number, measure: Measure): string[] {
  const fits = (line: string) => measure(line, weight, size) <= width;
  const lines: string[] = [];
  for (const paragraph of text.replace(/\r\n?/g, '\n').replace(/\t/g, ' ').split('\n')) {
    if (!paragraph.trim()) {
      lines.push('');
      continue;
    }
    // A paragraph's own indent (an items list, say) is kept on all its lines.
    const indent = /^ */.exec(paragraph)?.[0] ?? '';
    const words = paragraph.trim().split(/ +/);
    words[0] = `${indent}${words[0]}`;
    let line = '';
    for (const word of words) {
      const candidate = line ? `${line} ${word}` : word;
      if (fits(candidate)) {
        line = candidate;
        continue;
      }
      if (line) lines.push(line);
      line = line ? `${indent}${word}` : word;
      while (!fits(line) && graphemes(line).length > 1) {
        const chars = graphemes(line);
        let cut = chars.length - 1;
        while (cut > 1 && !fits(chars.slice(0, cut).join(''))) cut -= 1;
        lines.push(chars.slice(0, cut).join(''));
        line = chars.slice(cut).join('');
      }
    }
    lines.push(line);
  }
  // Blank lines at the very end only push the footer's page count up.
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The body's lines page by page: `firstPage` lines fit under the address and
 * subject, `laterPage` lines on each continuation page. A page never starts
 * with a blank line.
 */
export function paginate(lines: string[], firstPage: number, laterPage: number): string[][] {
  const pages: string[][] = [[]];
  for (const line of lines) {
    let page = pages[pages.length - 1];
    const room = pages.length === 1 ? firstPage : laterPage;
    if (page.length >= room) {
      if (line === '') continue;
      page = [];
      pages.push(page);
    }
    page.push(line);
  }
  return pages;
}
