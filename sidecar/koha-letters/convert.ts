/**
 * One Koha letter into the sidecar's template parts.
 *
 * A letter's text is read piece by piece: plain text, `<<table.column>>`
 * placeholders, `<item>...</item>` blocks (Koha repeats the block once per
 * item, the copies joined by a line break), `<<items.content>>` (one line per
 * item, its fields separated by tabs, in the order Koha's notice job uses by
 * default) and Template Toolkit directives `[% ... %]` with their whitespace
 * chomping (`[%-`, `-%]`, `~`, `=`). What has a counterpart becomes the
 * sidecar's template syntax; what has none is left out, and the report says
 * where (the line in the letter) and why. A branch of an IF whose condition
 * cannot be converted is left out as if the condition were false, so the
 * ELSE text (Koha's own fallback) remains.
 */
import { ExpressionProblem, ExpressionReader, tokenize } from './expressions';
import { isResolved, resolvePlaceholder, type NameScope, type Resolution } from './names';
import type { LetterTarget } from './letters';

/** Which field of the letter a piece came from: its title (the subject) or its content. */
export type LetterPart = 'subject' | 'content';

/** A piece of a letter that was left out, or converted with a difference worth knowing. */
export interface LetterFinding {
  part: LetterPart;
  /** 1-based line in that field of the letter. */
  line: number;
  /** The piece as the letter has it, shortened. */
  piece: string;
  reason: string;
}

/** Template text in pieces: literal text, or template code the converter wrote. */
export interface Segment {
  code: boolean;
  text: string;
}

export interface SourceConversion {
  segments: Segment[];
  problems: LetterFinding[];
  notes: LetterFinding[];
}

/** The fields `<<items.content>>` lists, in Koha's default order, per notice type. */
const ITEMS_CONTENT: Readonly<Record<LetterTarget['messageType'], readonly string[]>> = {
  overdue: ['due', 'title', 'barcode', 'author'],
  predue: ['due', 'title', 'author', 'barcode'],
  hold_waiting: ['waiting_since', 'title', 'barcode', 'author'],
  hold_reminder: ['waiting_since', 'title', 'barcode', 'author'],
  welcome: [],
};

const NOTE_ITEMS_CONTENT =
  "laid out as Koha's notice job does by default (one line per item, fields separated by tabs); a different --itemscontent given to Koha's cron job is not known here";

/** Filters that change nothing in the sidecar: it escapes HTML itself and its dates arrive formatted. */
const FILTERS_DROPPED = new Set(['html', 'html_entity', 'xml', '$KohaDates', 'KohaDates', 'dateonly']);
const FILTERS_KEPT: ReadonlyMap<string, string> = new Map([
  ['upper', 'upper'],
  ['lower', 'lower'],
  ['trim', 'trim'],
  ['uri', 'urlencode'],
  ['url', 'urlencode'],
]);

/** Directives that open a block Koha closes with END; all unsupported except IF, UNLESS, FOREACH, FOR. */
const BLOCK_DIRECTIVES = new Set(['WHILE', 'BLOCK', 'WRAPPER', 'FILTER', 'SWITCH', 'TRY', 'PERL', 'RAWPERL', 'VIEW']);

type Frame =
  | { kind: 'if'; line: number; opened: boolean; dead: boolean }
  | { kind: 'loop'; line: number; loopVar: string | null; closer: 'END' | '</item>' }
  | { kind: 'skip'; line: number; closer?: '</item>' };

function suppresses(frame: Frame): boolean {
  return frame.kind === 'skip' || (frame.kind === 'if' && frame.dead);
}

const PIECE = /\[%([-+=~]?)([\s\S]*?)([-+=~]?)%\]|<<([^<>\n]*)>>|<(\/?)item>/g;

function shorten(piece: string): string {
  const flat = piece.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

export function convertLetterSource(source: string, part: LetterPart, target: LetterTarget, isHtml: boolean): SourceConversion {
  return new LetterSourceConverter(source.replace(/\r\n?/g, '\n'), part, target, isHtml).run();
}

class LetterSourceConverter {
  private readonly segments: Segment[] = [];
  private readonly problems: LetterFinding[] = [];
  private readonly notes: LetterFinding[] = [];
  private readonly frames: Frame[] = [];
  private line = 1;
  private piece = '';

  constructor(
    private readonly source: string,
    private readonly part: LetterPart,
    private readonly target: LetterTarget,
    private readonly isHtml: boolean,
  ) {}

  run(): SourceConversion {
    let at = 0;
    let chompNext = '';
    PIECE.lastIndex = 0;
    for (let m = PIECE.exec(this.source); m; m = PIECE.exec(this.source)) {
      let text = chompStart(this.source.slice(at, m.index), chompNext);
      chompNext = '';
      this.line += countLines(this.source.slice(at, m.index));
      this.piece = m[0];
      // Which of the three kinds matched shows in its first characters.
      if (m[0].startsWith('[%')) {
        text = chompEnd(text, m[1]);
        this.text(text);
        this.directive(m[2].trim());
        chompNext = m[3];
      } else {
        this.text(text);
        if (m[0].startsWith('<<')) this.placeholder(m[4].trim());
        else this.itemTag(m[0] === '</item>');
      }
      this.line += countLines(m[0]);
      at = m.index + m[0].length;
    }
    this.text(chompStart(this.source.slice(at), chompNext));
    this.closeUnfinished();
    return { segments: mergeSegments(this.segments), problems: this.problems, notes: this.notes };
  }

  // -------------------------------------------------------------------------
  // Output

  private get suppressed(): boolean {
    return this.frames.some(suppresses);
  }

  private text(text: string): void {
    if (text && !this.suppressed) this.segments.push({ code: false, text });
  }

  private code(text: string): void {
    if (!this.suppressed) this.segments.push({ code: true, text });
  }

  private problem(reason: string): void {
    this.problems.push({ part: this.part, line: this.line, piece: shorten(this.piece), reason });
  }

  private note(reason: string): void {
    if (this.notes.some((n) => n.line === this.line && n.reason === reason)) return;
    this.notes.push({ part: this.part, line: this.line, piece: shorten(this.piece), reason });
  }

  private scope(): NameScope {
    const loop = [...this.frames].reverse().find((f) => f.kind === 'loop');
    return { target: this.target, inItemLoop: loop !== undefined, loopVar: loop?.kind === 'loop' ? loop.loopVar : null };
  }

  /** A resolved name printed; an unresolved one left out with its reason. */
  private output(resolution: Resolution): void {
    if (!isResolved(resolution)) {
      this.problem(resolution.problem);
      return;
    }
    if (resolution.note) this.note(resolution.note);
    if (resolution.expr === '') return;
    if (resolution.kind === 'list') {
      this.problem('a whole list cannot be printed; print its items in a FOREACH loop');
      return;
    }
    this.code(`{{ ${resolution.expr} }}`);
  }

  // -------------------------------------------------------------------------
  // <<table.column>> and <item>...</item>

  private placeholder(inner: string): void {
    if (this.suppressed) return;
    const m = /^([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)(?:\s*\|\s*dateonly)?$/.exec(inner);
    if (!m) {
      this.problem(`<<${inner}>> is not a placeholder the converter knows; Koha leaves unknown ones empty`);
      return;
    }
    if (m[1] === 'items.content') {
      this.itemsContent();
      return;
    }
    this.output(resolvePlaceholder(m[1], this.scope()));
  }

  private itemsContent(): void {
    const fields = ITEMS_CONTENT[this.target.messageType];
    if (fields.length === 0 || this.scope().inItemLoop) {
      this.problem('<<items.content>> has no items to list here');
      return;
    }
    this.note(NOTE_ITEMS_CONTENT);
    this.code('{% for item in items %}');
    fields.forEach((field, i) => {
      if (i > 0) this.text('\t');
      this.code(`{{ item.${field} }}`);
    });
    // Koha turns the line breaks into <br/> in an HTML letter.
    this.text(this.isHtml ? '<br/>' : '\n');
    this.code('{% endfor %}');
  }

  private itemTag(closing: boolean): void {
    const top = this.frames[this.frames.length - 1] as Frame | undefined;
    if (closing) {
      if (top?.kind === 'skip' && top.closer === '</item>') {
        this.frames.pop();
      } else if (top?.kind === 'loop' && top.closer === '</item>') {
        this.frames.pop();
        // Koha joins the copies of the block with a line break.
        this.code('{% if not loop.last %}');
        this.text('\n');
        this.code('{% endif %}{% endfor %}');
      } else if (!this.suppressed) {
        this.problem('</item> without its <item>');
      }
      return;
    }
    if (this.target.messageType === 'welcome' || this.scope().inItemLoop) {
      this.problem(this.target.messageType === 'welcome' ? 'a welcome notice is about no item' : 'an item list inside an item list');
      this.frames.push({ kind: 'skip', line: this.line, closer: '</item>' });
      return;
    }
    this.code('{% for item in items %}');
    this.frames.push({ kind: 'loop', line: this.line, loopVar: null, closer: '</item>' });
  }

  // -------------------------------------------------------------------------
  // [% ... %]

  private directive(body: string): void {
    if (body.startsWith('#')) return;
    const m = /^([A-Z]+)\b\s*([\s\S]*)$/.exec(body);
    const keyword = m ? m[1] : '';
    const rest = m ? m[2].trim() : body;
    if (this.suppressed) {
      this.directiveWhileLeftOut(keyword, rest);
      return;
    }
    if (hasSeveralStatements(body)) {
      this.problem('several directives in one [% %] are not converted');
      if (BLOCK_DIRECTIVES.has(keyword) || ['IF', 'UNLESS', 'FOREACH', 'FOR'].includes(keyword)) {
        this.frames.push({ kind: 'skip', line: this.line });
      }
      return;
    }
    switch (keyword) {
      case 'IF':
      case 'UNLESS':
        this.openIf(keyword === 'UNLESS', rest);
        return;
      case 'ELSIF':
      case 'ELSE':
        this.elseBranch(keyword === 'ELSIF' ? rest : null);
        return;
      case 'END':
        this.end();
        return;
      case 'FOREACH':
      case 'FOR':
        this.openLoop(rest);
        return;
      case 'USE':
        // Plugins need no loading here: what they are used for is converted (or reported) where it is used.
        return;
      case 'GET':
        this.print(rest);
        return;
      default:
        break;
    }
    if (BLOCK_DIRECTIVES.has(keyword) || (keyword === 'MACRO' && /\bBLOCK\b/.test(rest))) {
      this.problem(`[% ${keyword} %] has no counterpart in the sidecar's templates; the block is left out up to its END`);
      this.frames.push({ kind: 'skip', line: this.line });
      return;
    }
    if (keyword !== '' && /^[A-Z]+$/.test(keyword) && keyword.length > 1 && !/^[A-Z]+\./.test(body)) {
      if (keyword === 'SET' || keyword === 'DEFAULT') {
        this.problem(`[% ${keyword} %] is not converted: the sidecar's templates take values as they come`);
      } else if (keyword === 'INCLUDE' || keyword === 'PROCESS' || keyword === 'INSERT') {
        this.problem(`[% ${keyword} %] reads another of Koha's templates, which the sidecar does not have`);
      } else {
        this.problem(`[% ${keyword} %] has no counterpart in the sidecar's templates`);
      }
      return;
    }
    if (/^[A-Za-z_][\w.]*\s*=[^=>]/.test(body)) {
      this.problem("setting a variable is not converted: the sidecar's templates take values as they come");
      return;
    }
    this.print(body);
  }

  /** Inside a part being left out, only the nesting matters, and an ELSE that brings a dead IF back. */
  private directiveWhileLeftOut(keyword: string, rest: string): void {
    const top = this.frames[this.frames.length - 1];
    const outerLeftOut = this.frames.slice(0, -1).some(suppresses);
    if ((keyword === 'ELSIF' || keyword === 'ELSE') && top.kind === 'if' && !outerLeftOut) {
      this.elseBranch(keyword === 'ELSIF' ? rest : null);
    } else if (keyword === 'END') {
      this.frames.pop();
      if (top.kind === 'if' && top.opened && !outerLeftOut) this.code('{% endif %}');
    } else if (['IF', 'UNLESS', 'FOREACH', 'FOR'].includes(keyword) || BLOCK_DIRECTIVES.has(keyword)) {
      this.frames.push({ kind: 'skip', line: this.line });
    }
  }

  private reader(source: string): ExpressionReader {
    return new ExpressionReader(tokenize(source), this.scope());
  }

  /** A condition in the sidecar's syntax, or null (with the problem reported) when it has none. */
  private condition(source: string, negate: boolean): string | null {
    try {
      const reader = this.reader(source);
      const condition = reader.condition();
      if (!reader.done) throw new ExpressionProblem(`"${reader.restText()}" is not understood after the condition`);
      for (const note of reader.notes) this.note(note);
      return negate ? `not (${condition})` : condition;
    } catch (err) {
      if (!(err instanceof ExpressionProblem)) throw err;
      this.problem(`${err.message}; the text under this condition is left out, as if the condition were false`);
      return null;
    }
  }

  private openIf(negate: boolean, source: string): void {
    const condition = this.condition(source, negate);
    if (condition === null) {
      this.frames.push({ kind: 'if', line: this.line, opened: false, dead: true });
      return;
    }
    this.code(`{% if ${condition} %}`);
    this.frames.push({ kind: 'if', line: this.line, opened: true, dead: false });
  }

  private elseBranch(source: string | null): void {
    const top = this.frames[this.frames.length - 1] as Frame | undefined;
    if (top?.kind !== 'if') {
      this.problem(`${source === null ? 'ELSE' : 'ELSIF'} without its IF`);
      return;
    }
    // Decided with the IF's own branch closed, so its condition's names are read in the right place.
    top.dead = false;
    if (source === null) {
      if (top.opened) this.code('{% else %}');
      return;
    }
    const condition = this.condition(source, false);
    if (condition === null) {
      top.dead = true;
      return;
    }
    this.code(top.opened ? `{% elif ${condition} %}` : `{% if ${condition} %}`);
    top.opened = true;
  }

  private end(): void {
    const top = this.frames.pop();
    if (!top) {
      this.problem('END without a block to close');
      return;
    }
    if (top.kind === 'if' && top.opened) this.code('{% endif %}');
    else if (top.kind === 'loop') this.code('{% endfor %}');
  }

  private openLoop(source: string): void {
    const m = /^([A-Za-z_]\w*)\s+(?:IN|=)\s+([\s\S]+)$/.exec(source);
    if (!m) {
      this.problem('only FOREACH name IN list is converted; the loop is left out up to its END');
      this.frames.push({ kind: 'skip', line: this.line });
      return;
    }
    const [, loopVar, list] = m;
    let reason: string | null = null;
    if (this.scope().inItemLoop) {
      reason = 'a loop inside the loop over the items';
    } else {
      const name = /^[A-Za-z_][\w.]*$/.test(list.trim()) ? list.trim() : null;
      if (name === null || !this.target.lists.includes(name)) {
        reason = `the sidecar's ${this.target.messageType} notices have no list "${list.trim()}"${
          this.target.lists.length ? ` (Koha's item list here is ${this.target.lists.join(' or ')})` : ''
        }`;
      }
    }
    if (reason !== null) {
      this.problem(`${reason}; the loop is left out up to its END`);
      this.frames.push({ kind: 'skip', line: this.line });
      return;
    }
    this.code('{% for item in items %}');
    this.frames.push({ kind: 'loop', line: this.line, loopVar, closer: 'END' });
  }

  /** `[% expr | filter | filter %]`: the value printed, through the filters that have a counterpart. */
  private print(source: string): void {
    const [first, ...filters] = splitFilters(source);
    let expr: string;
    let kind: string;
    try {
      const reader = this.reader(first);
      const value = reader.or();
      if (!reader.done) throw new ExpressionProblem(`"${reader.restText()}" is not understood after the value`);
      for (const note of reader.notes) this.note(note);
      expr = value.expr;
      kind = value.kind;
    } catch (err) {
      if (!(err instanceof ExpressionProblem)) throw err;
      this.problem(`${err.message}; left out`);
      return;
    }
    if (kind === 'list') {
      this.problem('a whole list cannot be printed; print its items in a FOREACH loop');
      return;
    }
    if (expr === '""') return;
    for (const filter of filters) expr = this.filter(expr, filter);
    this.code(`{{ ${expr} }}`);
  }

  private filter(expr: string, filter: string): string {
    const m = /^(\$?\w+)\s*([\s\S]*)$/.exec(filter.trim());
    const name = m ? m[1] : filter.trim();
    const args = m ? m[2].trim() : '';
    if (FILTERS_DROPPED.has(name)) {
      if (/with_hours\s*(?:=>|=)\s*1/.test(args)) this.note('shown without the time of day: the sidecar gives the date only');
      return expr;
    }
    if (name === '$Price' || name === 'Price') {
      this.note("the amount is shown as it is, without Koha's currency format");
      return expr;
    }
    const kept = FILTERS_KEPT.get(name);
    // A Template Toolkit filter applies to the whole expression before it.
    if (kept && args === '') return `${/^[\w.[\]]+$/.test(expr) ? expr : `(${expr})`} | ${kept}`;
    this.problem(`the filter "${filter.trim()}" has no counterpart here; the value is shown without it`);
    return expr;
  }

  private closeUnfinished(): void {
    while (this.frames.length) {
      const frame = this.frames[this.frames.length - 1];
      this.line = frame.line;
      const itemBlock = frame.kind !== 'if' && frame.closer === '</item>';
      this.piece = itemBlock ? '<item>' : '[% ... %]';
      if (frame.kind !== 'skip') this.problem('this block is never closed; Koha could not use the letter as it is');
      if (itemBlock) this.itemTag(true);
      else this.end();
    }
  }
}

/** The characters of a directive outside its quoted strings, with how deep in parentheses each is. */
function* codeCharacters(source: string): Generator<{ c: string; i: number; depth: number }> {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else yield { c, i, depth };
  }
}

/** `a | b` splits into a value and its filters; `||` and `|` inside strings or parentheses do not split. */
function splitFilters(source: string): string[] {
  const out: string[] = [];
  let start = 0;
  let skip = -1;
  for (const { c, i, depth } of codeCharacters(source)) {
    if (c !== '|' || depth !== 0 || i === skip) continue;
    if (source[i + 1] === '|') skip = i + 1;
    else {
      out.push(source.slice(start, i));
      start = i + 1;
    }
  }
  out.push(source.slice(start));
  return out.map((s) => s.trim());
}

function hasSeveralStatements(source: string): boolean {
  for (const { c } of codeCharacters(source)) if (c === ';') return true;
  return false;
}

function countLines(text: string): number {
  let n = 0;
  for (const c of text) if (c === '\n') n++;
  return n;
}

/** Template Toolkit's chomping of the text before a directive (`[%-`, `[%~`, `[%=`). */
function chompEnd(text: string, marker: string): string {
  if (marker === '-') return text.replace(/(?:\n|^)[^\S\n]*$/, '');
  if (marker === '~') return text.replace(/\s+$/, '');
  if (marker === '=') return text.replace(/\s+$/, ' ');
  return text;
}

/** Template Toolkit's chomping of the text after a directive (`-%]`, `~%]`, `=%]`). */
function chompStart(text: string, marker: string): string {
  if (marker === '-') return text.replace(/^[^\S\n]*\n/, '');
  if (marker === '~') return text.replace(/^\s+/, '');
  if (marker === '=') return text.replace(/^\s+/, ' ');
  return text;
}

function mergeSegments(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1] as Segment | undefined;
    if (last && last.code === s.code) last.text += s.text;
    else out.push({ ...s });
  }
  return out;
}

// ---------------------------------------------------------------------------
// From pieces to template source, and between HTML and text

/**
 * Template source from pieces. Literal text that would open a template tag
 * (`{{`, `{%`, `{#`, or a `{` just before the converter's own code), or end a
 * comment (`#}`, which the template parser refuses anywhere), is written as a
 * printed string instead.
 */
export function templateSource(segments: readonly Segment[]): string {
  return segments.map((s) => (s.code ? s.text : s.text.replace(/\{(?=[{%#]|$)|#(?=\})/g, (c) => `{{ "${c}" }}`))).join('');
}

const ENTITIES: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', ' '],
]);

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES.get(name.toLowerCase()) ?? whole;
  });
}

/**
 * The text part of an HTML letter: its tags taken out, line breaks where
 * paragraphs, rows and `<br>` were, HTML's entities written as characters.
 * The template code stays where it was; code that sat inside a tag's
 * attributes goes with the tag.
 */
export function textFromHtml(segments: readonly Segment[]): Segment[] {
  const codes: string[] = [];
  let joined = segments
    .map((s) => {
      if (!s.code) return s.text;
      codes.push(s.text);
      return `\u0000${codes.length - 1}\u0000`;
    })
    .join('');
  joined = joined
    .replace(/<(style|script|head|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/\s+/g, ' ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|table|ul|ol|blockquote)\s*>/gi, '\n\n')
    .replace(/<\/(tr|li)\s*>/gi, '\n')
    .replace(/<\/(td|th)\s*>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/[^\S\n]*\n[^\S\n]*/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const out: Segment[] = [];
  for (const [i, piece] of joined.split('\u0000').entries()) {
    if (i % 2 === 1) out.push({ code: true, text: codes[Number(piece)] });
    else if (piece) out.push({ code: false, text: decodeEntities(piece) });
  }
  return mergeSegments(out);
}

/** An HTML part from a text part: the literal text escaped, its line breaks kept as `<br>`. */
export function htmlFromTextSegments(segments: readonly Segment[]): Segment[] {
  return segments.map((s) =>
    s.code
      ? s
      : {
          code: false,
          text: s.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '<br>\n'),
        },
  );
}
