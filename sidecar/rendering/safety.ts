/**
 * Safety for staff-edited notice templates.
 *
 * Nunjucks compiles a template to JavaScript and gives it a route to
 * `Function` through any value's `constructor`, so it cannot be trusted with
 * source that staff can edit. Instead of trying to block known tricks, every
 * notice template is parsed with nunjucks' own parser and each node of the
 * tree is checked against a short allow-list: text, `{{ }}` output, plain
 * names, member lookups with fixed names, if/elif/else, for loops, comparisons,
 * `and`/`or`/`not`, `in`, arithmetic, literals and a handful of filters and
 * tests. Anything else, including any syntax added in a later nunjucks, is
 * refused with the line, column and reason in plain words.
 *
 * The check runs when a template is saved and again before every render (a
 * template may have been changed in the database by hand). Rendering then
 * uses an environment of its own with no loaders, no globals and only the
 * allowed filters, and receives plain data only (see plain-data.ts).
 */
import type * as Nunjucks from 'nunjucks';
import { TemplateError } from '../errors';
import { isPlainRecord, toPlainData } from './plain-data';
import { escapeHtml } from './html';
import { RenderBudget, activeBudget, withBudget } from './render-budget';

// ---------------------------------------------------------------------------
// nunjucks internals used here (the package publishes no types for them)

interface AstNode {
  readonly typename: string;
  /** 0-based, like the rest of nunjucks' nodes; some nodes have none. */
  readonly lineno?: number;
  readonly colno?: number;
  readonly [field: string]: unknown;
}

interface NodeClass {
  readonly prototype: object;
}

interface NunjucksParser {
  parse(source: string, extensions: unknown[], options: object): AstNode;
}

/** nunjucks' tokenizer: `index` is how far into the source it has read. */
interface NunjucksTokenizer {
  readonly index: number;
  nextToken(): { type: string } | null;
}

interface NunjucksLexer {
  lex(source: string, options: object): NunjucksTokenizer;
  readonly TOKEN_DATA: string;
}

/** Fields of nunjucks.Environment that its published types leave out. */
interface EnvironmentInternals {
  globals: Record<string, unknown>;
  filters: Record<string, unknown>;
  tests: Record<string, unknown>;
  extensionsList: unknown[];
}

/** What nunjucks throws for a syntax or render error (positions are 1-based). */
interface NunjucksError {
  message?: string;
  lineno?: number;
  colno?: number;
  cause?: unknown;
}

/** A scope of variables while rendering; `loop.index` is set once per loop round. */
interface RenderFrame {
  set(name: string, value: unknown, resolveUp?: boolean): void;
  push(isolateWrites?: boolean): RenderFrame;
}

interface NunjucksRuntime {
  Frame: new (parent?: RenderFrame, isolateWrites?: boolean) => RenderFrame;
  SafeString: new (text: string) => { readonly val: string };
  suppressValue(value: unknown, autoescape: boolean): unknown;
}

/** nunjucks and the parts of it this module reaches into, with the render hooks installed. */
interface TemplateEngine {
  readonly nunjucks: typeof Nunjucks;
  readonly nodeClasses: Record<string, NodeClass>;
  readonly parser: NunjucksParser;
  readonly lexer: NunjucksLexer;
  readonly runtime: NunjucksRuntime;
  /** The top frame of a notice render, counting loop rounds against `budget`. */
  readonly BudgetFrame: new (budget: RenderBudget) => RenderFrame;
}

let loadedEngine: TemplateEngine | undefined;

/**
 * nunjucks is loaded when a notice template is first checked or rendered, not
 * when this module is: a command that renders nothing (a run that finds no
 * loans, --help) then starts without it. Everything that touches nunjucks goes
 * through here, so no template is checked or rendered before the render hooks
 * below are in place.
 */
function engine(): TemplateEngine {
  if (loadedEngine) return loadedEngine;
  // nunjucks ships neither types nor an import path for its parser and node classes; require() is the documented way in.
  /* eslint-disable @typescript-eslint/no-require-imports -- see above */
  const nunjucks = require('nunjucks') as typeof Nunjucks;
  const nodeClasses = require('nunjucks/src/nodes') as Record<string, NodeClass>;
  const parser = require('nunjucks/src/parser') as NunjucksParser;
  const lexer = require('nunjucks/src/lexer') as NunjucksLexer;
  const runtime = require('nunjucks/src/runtime') as NunjucksRuntime;
  /* eslint-enable @typescript-eslint/no-require-imports */

  /** A render's frames: each loop round is counted against the render budget. */
  class BudgetFrame extends runtime.Frame {
    constructor(
      private readonly budget: RenderBudget,
      parent?: RenderFrame,
      isolateWrites?: boolean,
    ) {
      super(parent, isolateWrites);
    }

    override set(name: string, value: unknown, resolveUp?: boolean): void {
      if (name === 'loop.index') this.budget.loopRound();
      super.set(name, value, resolveUp);
    }

    override push(isolateWrites?: boolean): RenderFrame {
      return new BudgetFrame(this.budget, this, isolateWrites);
    }
  }

  // Every {{ }} goes through suppressValue, which also escapes it for HTML: its
  // text is counted against the budget of a notice render under way (none while
  // the staff pages render).
  const printValue = runtime.suppressValue.bind(runtime);
  runtime.suppressValue = (value: unknown, autoescape: boolean): unknown => {
    const printed = printValue(value, autoescape);
    const budget = activeBudget();
    if (budget) budget.output(typeof printed === 'string' ? printed.length : 0);
    return printed;
  };

  loadedEngine = { nunjucks, nodeClasses, parser, lexer, runtime, BudgetFrame };
  return loadedEngine;
}

// ---------------------------------------------------------------------------
// The allow-list

/**
 * Names nunjucks (or Jinja, which staff may know) treats as helpers or special
 * objects. `range`, `cycler` and `joiner` are functions, so their
 * `constructor` is `Function`.
 */
const RESERVED_NAMES = new Set([
  'range',
  'cycler',
  'joiner',
  'lipsum',
  'dict',
  'namespace',
  'caller',
  'super',
  'self',
  'this',
  'varargs',
  'kwargs',
  'loop',
]);

/**
 * Names that reach JavaScript machinery rather than data. Nunjucks copies the
 * top-level data into an ordinary object, so even a bare name like
 * `constructor` or `toString` finds `Object.prototype`; the same names on any
 * string, number, array or function lead to `Function`. The list is completed
 * at start-up from the running engine, so members Node adds later are covered.
 */
const DANGEROUS_NAMES: ReadonlySet<string> = new Set([
  'constructor',
  'prototype',
  '__proto__',
  'caller',
  'callee',
  'arguments',
  'apply',
  'call',
  'bind',
  'toString',
  'toLocaleString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  ...Object.getOwnPropertyNames(Object.prototype),
  // `name` and `length` of a function are harmless and common data fields.
  ...Object.getOwnPropertyNames(Function.prototype).filter((name) => name !== 'name' && name !== 'length'),
]);

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

const LOOP_MEMBERS = new Set(['index', 'index0', 'revindex', 'revindex0', 'first', 'last', 'length']);

const COMPARE_OPERATORS = new Set(['==', '===', '!=', '!==', '<', '>', '<=', '>=']);

/** Tests allowed after `is`; `none` and `null` reach nunjucks' `null` test. */
const TEST_NAMES = ['defined', 'undefined', 'number', 'string', 'odd', 'even'] as const;
const ENVIRONMENT_TESTS = [...TEST_NAMES, 'null'];

/** Loops inside loops: enough for items and their parts, too few to multiply into billions of rounds. */
const MAX_LOOP_DEPTH = 3;

/** Largest number a width or count argument may take (widths build strings). */
const MAX_FILTER_COUNT = 1000;

type FilterArgument =
  | 'value' // any allowed expression
  | 'text' // a string literal
  | 'flag' // true or false
  | 'count' // a whole number literal from 0 to MAX_FILTER_COUNT
  | 'number' // a number literal, optionally negative
  | 'roundMethod'; // "common", "ceil" or "floor"

/**
 * Allowed filters and what each argument may be. Arguments are literals except
 * the fallback of `default`, so no filter can be handed a value that reads
 * members by a computed name (the reason `join`'s attribute argument and
 * `sort`, `groupby`, `selectattr`, `sum`... are out).
 */
const FILTERS: ReadonlyMap<string, readonly FilterArgument[]> = new Map<string, readonly FilterArgument[]>([
  ['abs', []],
  ['capitalize', []],
  ['center', ['count']],
  ['default', ['value', 'flag']],
  ['d', ['value', 'flag']],
  ['escape', []],
  ['e', []],
  ['first', []],
  ['float', ['number']],
  ['indent', ['count', 'flag']],
  ['int', ['number']],
  ['join', ['text']],
  ['last', []],
  ['length', []],
  ['lower', []],
  ['nl2br', []],
  ['replace', ['text', 'text', 'count']],
  ['round', ['count', 'roundMethod']],
  ['string', []],
  ['striptags', ['flag']],
  ['title', []],
  ['trim', []],
  ['truncate', ['count', 'flag', 'text']],
  ['upper', []],
  ['urlencode', []],
  ['wordcount', []],
]);

/** Refused filters worth a specific explanation. */
const FILTER_REASONS: ReadonlyMap<string, string> = new Map([
  ['safe', 'the filter "safe" is not allowed in notice templates: it switches off escaping, so data could inject HTML'],
  ['attr', 'the filter "attr" is not allowed in notice templates: it looks up members by a computed name'],
  [
    'dump',
    'the filter "dump" is not allowed in notice templates: it prints whole data structures, including fields a notice should not show',
  ],
]);

/** The allowed filter names, for editor help and documentation. */
export const NOTICE_TEMPLATE_FILTERS: readonly string[] = [...FILTERS.keys()].sort();

/** The tests allowed after `is` (plus `none`), for editor help and documentation. */
export const NOTICE_TEMPLATE_TESTS: readonly string[] = [...TEST_NAMES, 'none'];

/** Why a refused tag is refused, by node type. */
const STATEMENT_REASONS: ReadonlyMap<string, string> = new Map([
  ['Set', '{% set %} is not allowed in notice templates; use the values as they come'],
  ['Macro', '{% macro %} is not allowed in notice templates'],
  ['Import', '{% import %} is not allowed in notice templates'],
  ['FromImport', '{% from ... import %} is not allowed in notice templates'],
  ['Extends', '{% extends %} is not allowed in notice templates'],
  ['Include', '{% include %} is not allowed in notice templates'],
  ['Block', '{% block %} is not allowed in notice templates'],
  ['Super', 'super() is not allowed in notice templates'],
  ['Switch', '{% switch %} is not allowed in notice templates; use {% if %} and {% elif %}'],
  ['IfAsync', '{% ifAsync %} is not allowed in notice templates; use {% if %}'],
  ['AsyncEach', '{% asyncEach %} is not allowed in notice templates; use {% for %}'],
  ['AsyncAll', '{% asyncAll %} is not allowed in notice templates; use {% for %}'],
  ['CallExtension', 'custom tags are not allowed in notice templates'],
  ['CallExtensionAsync', 'custom tags are not allowed in notice templates'],
]);

const REASON = {
  call: 'calling functions is not allowed in notice templates',
  callBlock: '{% call %} is not allowed in notice templates',
  filterBlock: '{% filter %} blocks are not allowed in notice templates; apply the filter with | inside {{ }}',
  namedArguments: 'named arguments (name=value) are not allowed in notice templates; give the arguments in order',
  dict: 'dictionaries ({ ... }) are not allowed in notice templates',
  regex: 'regular expressions are not allowed in notice templates',
  computed:
    'looking up a member by a computed name is not allowed in notice templates; use a fixed name such as item.title or item["title"], or a whole number such as items[0]',
  group: 'parentheses may hold only one expression in notice templates',
  loopVariables: 'a {% for %} loop takes one name, or two names (key, value) for a set of named values',
  loop: '"loop" can only be used inside {% for %}, as loop.index, loop.index0, loop.revindex, loop.revindex0, loop.first, loop.last or loop.length',
  test: `only these tests can follow "is" in notice templates: ${NOTICE_TEMPLATE_TESTS.join(', ')}`,
  nesting: 'the template is nested too deeply',
  loopSource:
    'a {% for %} loop can only go over a list the notice provides, such as items; lists, texts or dictionaries written into the template, and filtered values, cannot be looped over',
  loopDepth: `{% for %} loops can be nested at most ${MAX_LOOP_DEPTH} deep in notice templates`,
  emptySearch: 'argument 1 of the filter "replace" must not be empty: replacing "" inserts text between every character',
  unsupported: 'this syntax is not allowed in notice templates',
} as const;

/**
 * Deeper than any real notice needs (a long `a or b or c ...` chain nests one
 * level per operator), shallow enough to stay far from the stack limit.
 */
const MAX_NESTING = 200;

// ---------------------------------------------------------------------------
// The check

interface Position {
  line: number;
  column: number;
}

interface Problem extends Position {
  reason: string;
}

/**
 * Parses `source` and checks it against the allow-list. Returns quietly when
 * the template is acceptable; otherwise throws a TemplateError naming the
 * template, the line and column (1-based) of the first problem in reading
 * order, and the reason.
 */
export function checkNoticeTemplate(source: string, name: string): void {
  if (typeof source !== 'string') {
    throw new TemplateError(`Notice template "${name}": the template is not text`, {
      template: name,
      reason: 'the template is not text',
    });
  }
  const root = parseNoticeTemplate(source, name);
  const problem = new NoticeTemplateChecker().check(root);
  if (problem) throw refusal(name, problem);
}

function refusal(name: string, problem: Problem): TemplateError {
  return new TemplateError(`Notice template "${name}", line ${problem.line}, column ${problem.column}: ${problem.reason}`, {
    template: name,
    line: problem.line,
    column: problem.column,
    reason: problem.reason,
  });
}

function parseNoticeTemplate(source: string, name: string): AstNode {
  try {
    // No extensions: an unknown tag is a syntax error, never someone's parser.
    return engine().parser.parse(source, [], {});
  } catch (err) {
    throw refusal(name, describeSyntaxError(err, source));
  }
}

function describeSyntaxError(err: unknown, source: string): Problem {
  const error = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as NunjucksError;
  const at =
    typeof error.lineno === 'number' && error.lineno > 0
      ? { line: error.lineno, column: typeof error.colno === 'number' && error.colno > 0 ? error.colno : 1 }
      : endOf(source);
  if (err instanceof RangeError) return { ...at, reason: REASON.nesting };
  const message = error.message ?? '';
  const unknownTag = /^unknown block tag: (.*)$/.exec(message);
  if (unknownTag) {
    return { ...at, reason: `{% ${unknownTag[1]} %} is not a tag notice templates can use` };
  }
  // nunjucks prefixes some messages with the name of its parsing function.
  const detail = message.replace(/^(?:parse[A-Za-z]*|advanceAfterBlockEnd): /, '');
  return { ...at, reason: `the template has a syntax error: ${detail}` };
}

/** Where "the end of the template" is, for errors nunjucks gives no position. */
function endOf(source: string): Position {
  const lines = source.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function isNode(value: unknown): value is AstNode {
  return value instanceof (engine().nodeClasses.Node as unknown as abstract new () => object);
}

/**
 * The node's exact type. Compared by prototype rather than `instanceof`,
 * because refused types extend allowed ones (AsyncEach is a For, TemplateData
 * a Literal, IfAsync an If).
 */
function typeOf(node: AstNode): string {
  const { nodeClasses } = engine();
  const nodeClass = Object.prototype.hasOwnProperty.call(nodeClasses, node.typename) ? nodeClasses[node.typename] : undefined;
  return nodeClass && Object.getPrototypeOf(node) === nodeClass.prototype ? node.typename : 'unknown';
}

function childrenOf(node: AstNode): unknown[] {
  return Array.isArray(node.children) ? node.children : [];
}

function positionOf(node: AstNode, fallback: Position): Position {
  return typeof node.lineno === 'number' && typeof node.colno === 'number' ? { line: node.lineno + 1, column: node.colno + 1 } : fallback;
}

function isSymbolNamed(value: unknown, name: string): boolean {
  return isNode(value) && typeOf(value) === 'Symbol' && value.value === name;
}

/** Why `name` cannot be used as a variable or loop variable, or null if it can. */
function variableNameProblem(name: string): string | null {
  if (name === 'loop') return REASON.loop;
  if (name.startsWith('_')) return `names starting with "_" are not allowed in notice templates ("${name}")`;
  if (!NAME_PATTERN.test(name)) {
    return `"${name}" is not a name notice templates can use; names are made of letters, digits and "_"`;
  }
  if (RESERVED_NAMES.has(name)) return `"${name}" is not available in notice templates`;
  if (DANGEROUS_NAMES.has(name)) return `"${name}" cannot be used in notice templates`;
  return null;
}

/** Why `name` cannot be looked up as a member, or null if it can. */
function memberNameProblem(name: string): string | null {
  if (name.startsWith('_')) return `members starting with "_" cannot be looked up in notice templates ("${name}")`;
  if (DANGEROUS_NAMES.has(name)) return `"${name}" cannot be looked up in notice templates`;
  return null;
}

class NoticeTemplateChecker {
  private first: Problem | null = null;
  private loopDepth = 0;
  private nesting = 0;

  check(root: AstNode): Problem | null {
    this.statements(root, { line: 1, column: 1 });
    return this.first;
  }

  /** Keeps the problem that comes first in reading order. */
  private refuse(at: Position, reason: string): void {
    const first = this.first;
    if (!first || at.line < first.line || (at.line === first.line && at.column < first.column)) {
      this.first = { line: at.line, column: at.column, reason };
    }
  }

  /** Runs `visit` one level deeper, refusing instead once nesting gets absurd. */
  private deeper(at: Position, visit: () => void): void {
    if (this.nesting >= MAX_NESTING) {
      this.refuse(at, REASON.nesting);
      return;
    }
    this.nesting++;
    try {
      visit();
    } finally {
      this.nesting--;
    }
  }

  private statements(value: unknown, parentAt: Position): void {
    if (!isNode(value)) {
      this.refuse(parentAt, REASON.unsupported);
      return;
    }
    const at = positionOf(value, parentAt);
    const type = typeOf(value);
    if (type !== 'NodeList' && type !== 'Root') {
      this.refuse(at, REASON.unsupported);
      return;
    }
    for (const child of childrenOf(value)) this.statement(child, at);
  }

  private statement(value: unknown, parentAt: Position): void {
    if (!isNode(value)) {
      this.refuse(parentAt, REASON.unsupported);
      return;
    }
    const node = value;
    const at = positionOf(node, parentAt);
    const type = typeOf(node);
    this.deeper(at, () => {
      switch (type) {
        case 'Output':
          for (const child of childrenOf(node)) {
            if (isNode(child) && typeOf(child) === 'TemplateData') {
              if (typeof child.value !== 'string') this.refuse(positionOf(child, at), REASON.unsupported);
            } else {
              this.expression(child, at);
            }
          }
          return;
        case 'If':
          this.expression(node.cond, at);
          this.statements(node.body, at);
          if (node.else_ === null || node.else_ === undefined) return;
          if (isNode(node.else_) && typeOf(node.else_) === 'If') this.statement(node.else_, at);
          else this.statements(node.else_, at);
          return;
        case 'For':
          this.forLoop(node, at);
          return;
        default:
          this.refuse(at, STATEMENT_REASONS.get(type) ?? REASON.unsupported);
      }
    });
  }

  private forLoop(node: AstNode, at: Position): void {
    const target = node.name;
    let names: unknown[] = [];
    if (isNode(target) && typeOf(target) === 'Symbol') names = [target];
    else if (isNode(target) && typeOf(target) === 'Array') names = childrenOf(target);
    if (names.length < 1 || names.length > 2) this.refuse(at, REASON.loopVariables);
    for (const name of names) {
      if (!isNode(name) || typeOf(name) !== 'Symbol' || typeof name.value !== 'string') {
        this.refuse(at, REASON.loopVariables);
        continue;
      }
      const problem = variableNameProblem(name.value);
      if (problem) this.refuse(positionOf(name, at), problem);
    }
    const source = node.arr;
    const sourceType = isNode(source) ? typeOf(source) : 'unknown';
    if (sourceType !== 'Symbol' && sourceType !== 'LookupVal') this.refuse(isNode(source) ? positionOf(source, at) : at, REASON.loopSource);
    this.expression(source, at);
    if (this.loopDepth >= MAX_LOOP_DEPTH) this.refuse(at, REASON.loopDepth);
    this.loopDepth++;
    try {
      this.statements(node.body, at);
    } finally {
      this.loopDepth--;
    }
    // The else part runs when there was nothing to loop over.
    if (node.else_ !== null && node.else_ !== undefined) this.statements(node.else_, at);
  }

  private expression(value: unknown, parentAt: Position): void {
    if (!isNode(value)) {
      this.refuse(parentAt, REASON.unsupported);
      return;
    }
    const node = value;
    const at = positionOf(node, parentAt);
    this.deeper(at, () => {
      this.expressionNode(node, typeOf(node), at);
    });
  }

  private expressionNode(node: AstNode, type: string, at: Position): void {
    switch (type) {
      case 'Literal':
        this.literal(node, at);
        return;
      case 'Symbol': {
        const problem = typeof node.value === 'string' ? variableNameProblem(node.value) : REASON.unsupported;
        if (problem) this.refuse(at, problem);
        return;
      }
      case 'LookupVal':
        this.lookup(node, at);
        return;
      case 'Filter':
        this.filter(node, at);
        return;
      case 'Is':
        this.expression(node.left, at);
        if (!this.isAllowedTest(node.right)) {
          this.refuse(isNode(node.right) ? positionOf(node.right, at) : at, REASON.test);
        }
        return;
      case 'Compare':
        this.expression(node.expr, at);
        for (const operand of Array.isArray(node.ops) ? (node.ops as unknown[]) : []) {
          if (
            !isNode(operand) ||
            typeOf(operand) !== 'CompareOperand' ||
            typeof operand.type !== 'string' ||
            !COMPARE_OPERATORS.has(operand.type)
          ) {
            this.refuse(at, REASON.unsupported);
            continue;
          }
          this.expression(operand.expr, positionOf(operand, at));
        }
        return;
      case 'In':
      case 'Or':
      case 'And':
      case 'Add':
      case 'Concat':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'FloorDiv':
      case 'Mod':
      case 'Pow':
        this.expression(node.left, at);
        this.expression(node.right, at);
        return;
      case 'Not':
      case 'Neg':
      case 'Pos':
        this.expression(node.target, at);
        return;
      case 'InlineIf':
        this.expression(node.cond, at);
        this.expression(node.body, at);
        if (node.else_ !== null && node.else_ !== undefined) this.expression(node.else_, at);
        return;
      case 'Group': {
        // nunjucks compiles (a, b) to JavaScript's comma operator.
        const children = childrenOf(node);
        if (children.length !== 1) this.refuse(at, REASON.group);
        for (const child of children) this.expression(child, at);
        return;
      }
      case 'Array':
        // A list literal, as in: status in ["a", "b"]
        for (const child of childrenOf(node)) this.expression(child, at);
        return;
      case 'FunCall':
        this.refuse(at, REASON.call);
        // The callee and arguments come earlier in the text and may explain
        // the refusal better (`range(...)`, `{% call %}`).
        this.expression(node.name, at);
        for (const child of isNode(node.args) ? childrenOf(node.args) : []) this.expression(child, at);
        return;
      case 'KeywordArgs':
        this.refuse(at, REASON.namedArguments);
        for (const pair of childrenOf(node)) {
          if (isNode(pair) && typeOf(pair) === 'Pair') this.expression(pair.value, positionOf(pair, at));
        }
        return;
      case 'Caller':
        this.refuse(at, REASON.callBlock);
        return;
      case 'Capture':
        this.refuse(at, REASON.filterBlock);
        return;
      case 'Dict':
        this.refuse(at, REASON.dict);
        return;
      default:
        this.refuse(at, REASON.unsupported);
    }
  }

  private literal(node: AstNode, at: Position): void {
    const value = node.value;
    if (value instanceof RegExp) {
      this.refuse(at, REASON.regex);
    } else if (!(
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    )) {
      this.refuse(at, REASON.unsupported);
    }
  }

  private lookup(node: AstNode, at: Position): void {
    const key = node.val;
    if (isSymbolNamed(node.target, 'loop')) {
      const loopAt = positionOf(node.target as AstNode, at);
      const member = isNode(key) && typeOf(key) === 'Literal' ? key.value : undefined;
      if (this.loopDepth === 0) {
        this.refuse(loopAt, REASON.loop);
      } else if (typeof member !== 'string' || !LOOP_MEMBERS.has(member)) {
        const shown = typeof member === 'string' ? `loop.${member}` : 'loop[...]';
        this.refuse(loopAt, `"${shown}" is not available; ${REASON.loop}`);
      }
      return;
    }
    this.expression(node.target, at);
    if (!isNode(key) || typeOf(key) !== 'Literal') {
      this.refuse(at, REASON.computed);
      return;
    }
    const keyAt = positionOf(key, at);
    if (typeof key.value === 'string') {
      const problem = memberNameProblem(key.value);
      if (problem) this.refuse(keyAt, problem);
    } else if (!(typeof key.value === 'number' && Number.isSafeInteger(key.value) && key.value >= 0)) {
      this.refuse(keyAt, REASON.computed);
    }
  }

  private filter(node: AstNode, at: Position): void {
    const args = isNode(node.args) ? childrenOf(node.args) : [];
    // The first argument is the value being filtered (or, for a
    // {% filter %} block, the captured body).
    const [input, ...extra] = args;
    this.expression(input, at);
    const name = isNode(node.name) && typeOf(node.name) === 'Symbol' ? node.name.value : undefined;
    const spec = typeof name === 'string' ? FILTERS.get(name) : undefined;
    if (typeof name !== 'string' || !spec) {
      this.refuse(at, FILTER_REASONS.get(String(name)) ?? `the filter "${String(name)}" is not allowed in notice templates`);
      return;
    }
    if (extra.length > spec.length) {
      this.refuse(
        at,
        spec.length === 0
          ? `the filter "${name}" takes no arguments`
          : `the filter "${name}" takes at most ${spec.length} argument${spec.length === 1 ? '' : 's'}`,
      );
    }
    extra.forEach((arg, index) => {
      if (index < spec.length) this.filterArgument(name, index, spec[index], arg, at);
    });
    const search = extra[0];
    if (name === 'replace' && isNode(search) && typeOf(search) === 'Literal' && search.value === '') {
      this.refuse(positionOf(search, at), REASON.emptySearch);
    }
  }

  private filterArgument(filter: string, index: number, kind: FilterArgument, arg: unknown, at: Position): void {
    if (!isNode(arg)) {
      this.refuse(at, REASON.unsupported);
      return;
    }
    const argAt = positionOf(arg, at);
    const type = typeOf(arg);
    if (type === 'KeywordArgs') {
      this.expression(arg, at);
      return;
    }
    if (kind === 'value') {
      this.expression(arg, at);
      return;
    }
    const literal = type === 'Literal' ? arg.value : undefined;
    const negated = type === 'Neg' && isNode(arg.target) && typeOf(arg.target) === 'Literal' ? arg.target.value : undefined;
    let ok: boolean;
    let wanted: string;
    switch (kind) {
      case 'text':
        ok = typeof literal === 'string';
        wanted = 'a fixed text in quotes';
        break;
      case 'flag':
        ok = typeof literal === 'boolean';
        wanted = 'true or false';
        break;
      case 'count':
        ok = typeof literal === 'number' && Number.isInteger(literal) && literal >= 0 && literal <= MAX_FILTER_COUNT;
        wanted = `a whole number from 0 to ${MAX_FILTER_COUNT}`;
        break;
      case 'number':
        ok = (typeof literal === 'number' && Number.isFinite(literal)) || (typeof negated === 'number' && Number.isFinite(negated));
        wanted = 'a number';
        break;
      case 'roundMethod':
        ok = literal === 'common' || literal === 'ceil' || literal === 'floor';
        wanted = '"common", "ceil" or "floor"';
        break;
    }
    if (!ok) this.refuse(argAt, `argument ${index + 1} of the filter "${filter}" must be ${wanted}`);
  }

  private isAllowedTest(right: unknown): boolean {
    if (!isNode(right)) return false;
    const type = typeOf(right);
    if (type === 'Literal') return right.value === null; // `is none`, `is null`
    return type === 'Symbol' && (TEST_NAMES as readonly unknown[]).includes(right.value);
  }
}

// ---------------------------------------------------------------------------
// Rendering

export interface RenderNoticeOptions {
  /** The template's name, used in every error message. */
  name: string;
  /** True for HTML bodies; false for plain text (SMS, text e-mail, print). */
  autoescape: boolean;
}

/** Compiled templates kept: up to CACHE_LIMIT per escaping mode. */
const CACHE_LIMIT = 200;
/** By escaping mode, then by the exact source: no key is built per call. */
/** Compiled templates by source, one cache for escaped (HTML) and one for plain output. */
const compiledTemplates = { escaped: new Map<string, Nunjucks.Template>(), plain: new Map<string, Nunjucks.Template>() };
const environments = new Map<boolean, Nunjucks.Environment>();

/**
 * Notice data made plain once, for rendering several parts of one notice
 * (subject, text, HTML) without copying it again for each. Only
 * `NoticeData.from` makes one, so what it holds has always been through the
 * plain-data copy. Sharing it is safe: nunjucks renders from a copy of the
 * top level, and a template has no way to assign into a nested value.
 */
// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- an opaque handle: only from() makes one, its contents live in a WeakMap
export class NoticeData {
  private constructor() {}

  /** `name` is the template named in the error when the data cannot be used. */
  static from(data: unknown, name: string): NoticeData {
    const made = new NoticeData();
    plainCopies.set(made, noticeContext(data, name));
    return made;
  }
}

/** The plain copy behind each NoticeData: reachable from this module only. */
const plainCopies = new WeakMap<NoticeData, object>();

/**
 * Checks `source` (its verdict is kept per exact text) and renders it with
 * `data` made into plain data (or data already made plain, a NoticeData).
 * Any failure is a TemplateError that names the template.
 */
export function renderNoticeTemplate(source: string, data: unknown, opts: RenderNoticeOptions): string {
  checkOnce(source, opts.name);
  const context = (data instanceof NoticeData ? plainCopies.get(data) : undefined) ?? noticeContext(data, opts.name);
  const template = compiledTemplate(source, opts) as unknown as RenderableTemplate;
  const budget = new RenderBudget(opts.name);
  let rendered: string;
  try {
    rendered = withBudget(budget, () => template.render(context, new (engine().BudgetFrame)(budget)));
  } catch (err) {
    if (budget.exceeded) throw budget.exceeded;
    throw renderFailure(opts.name, err);
  }
  // Text outside {{ }} is not counted while it is joined; its length is known without reading it.
  budget.output(rendered.length);
  return rendered;
}

/**
 * The source with `rewrite` applied to its literal text only (what lies
 * outside {{ }}, {% %} and {# #}), or null when it cannot be read as a
 * template. Literal text is all a checked template prints as written.
 */
export function rewriteTemplateText(source: string, rewrite: (text: string) => string): string | null {
  const { lexer } = engine();
  let out = '';
  let from = 0;
  try {
    const tokens = lexer.lex(source, {});
    for (let token = tokens.nextToken(); token; token = tokens.nextToken()) {
      const piece = source.slice(from, tokens.index);
      out += token.type === lexer.TOKEN_DATA ? rewrite(piece) : piece;
      from = tokens.index;
    }
  } catch {
    return null;
  }
  return out + source.slice(from);
}

/** Template.render with the parent frame the published types leave out. */
interface RenderableTemplate {
  render(context: object, parentFrame: RenderFrame): string;
}

/**
 * The check is a pure function of the source, so a source that passed
 * passes again: its verdict is kept (by the exact text, so any change is
 * checked afresh). A run of 100,000 notices would otherwise parse the same
 * few templates hundreds of thousands of times.
 */
const passedSources = new Set<string>();
function checkOnce(source: string, name: string): void {
  if (passedSources.has(source)) return;
  checkNoticeTemplate(source, name);
  passedSources.add(source);
  if (passedSources.size > CACHE_LIMIT) {
    const oldest = passedSources.values().next().value;
    if (oldest !== undefined) passedSources.delete(oldest);
  }
}

/**
 * What the rendering environment offers, for tests and diagnostics: the
 * environment itself is kept private so nothing renders unchecked source
 * with it.
 */
export function noticeEnvironmentSummary(autoescape: boolean): { globals: string[]; filters: string[]; tests: string[] } {
  const internals = noticeEnvironment(autoescape) as unknown as EnvironmentInternals;
  return {
    globals: Object.keys(internals.globals).sort(),
    filters: Object.keys(internals.filters).sort(),
    tests: Object.keys(internals.tests).sort(),
  };
}

function noticeContext(data: unknown, name: string): object {
  if (data === null || data === undefined) return Object.create(null) as object;
  let plain: unknown;
  try {
    plain = toPlainData(data);
  } catch (err) {
    const reason = `the notice data cannot be used: ${err instanceof Error ? err.message : String(err)}`;
    throw new TemplateError(`Notice template "${name}": ${reason}`, { template: name, reason });
  }
  if (!isPlainRecord(plain)) {
    const reason = 'the notice data must be a set of named values';
    throw new TemplateError(`Notice template "${name}": ${reason}`, { template: name, reason });
  }
  return plain;
}

function noticeEnvironment(autoescape: boolean): Nunjucks.Environment {
  let env = environments.get(autoescape);
  if (env) return env;
  // An empty loader list, not null: null makes nunjucks read files from ./views.
  // `dev` keeps line numbers on render errors.
  env = new (engine().nunjucks.Environment)([], { autoescape, throwOnUndefined: false, dev: true });
  const internals = env as unknown as EnvironmentInternals;
  internals.globals = Object.create(null) as Record<string, unknown>;
  internals.filters = budgetedFilters(onlyThese(internals.filters, [...FILTERS.keys()]), autoescape);
  internals.tests = onlyThese(internals.tests, ENVIRONMENT_TESTS);
  internals.extensionsList = [];
  environments.set(autoescape, env);
  return env;
}

/**
 * Each filter's result is counted against the render budget. For HTML, no
 * filter result is ever marked safe, so every value is escaped when it is
 * printed, after the last filter: `escape` changes nothing there (the value is
 * escaped once, at output), and no later filter can undo the escaping, since
 * it has not happened yet.
 */
function budgetedFilters(filters: Record<string, unknown>, autoescape: boolean): Record<string, unknown> {
  const budgeted = Object.create(null) as Record<string, unknown>;
  for (const [name, filter] of Object.entries(filters)) {
    if (typeof filter !== 'function') throw new Error(`nunjucks' filter "${name}" is not a function`);
    let run = filter;
    if (autoescape && (name === 'escape' || name === 'e')) run = (value: unknown): unknown => value;
    if (autoescape && name === 'nl2br') run = htmlLineBreaks;
    budgeted[name] = function (this: unknown, ...args: unknown[]): unknown {
      const result: unknown = Reflect.apply(run, this, args);
      activeBudget()?.filterResult(name, result);
      if (autoescape && result instanceof engine().runtime.SafeString) return name === 'nl2br' ? result : result.val;
      return result;
    };
  }
  return budgeted;
}

/**
 * `nl2br` for HTML: the only result ever marked safe, because it escapes its
 * input itself before adding the line breaks. Any filter after it takes the
 * mark away again (the text is then escaped a second time, never not at all).
 */
function htmlLineBreaks(value: unknown): unknown {
  if (value === null || value === undefined) return '';
  const text =
    value instanceof engine().runtime.SafeString
      ? value.val
      : escapeHtml(typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value === 'string' ? value : '');
  return new (engine().runtime.SafeString)(text.replace(/\r\n|\n/g, '<br />\n'));
}

function onlyThese(all: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const kept = Object.create(null) as Record<string, unknown>;
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(all, name)) {
      throw new Error(`nunjucks no longer provides "${name}"; the notice template allow-list needs updating`);
    }
    kept[name] = all[name];
  }
  return kept;
}

function compiledTemplate(source: string, opts: RenderNoticeOptions): Nunjucks.Template {
  const cache = opts.autoescape ? compiledTemplates.escaped : compiledTemplates.plain;
  const cached = cache.get(source);
  if (cached) {
    // Re-inserting keeps the map in least-recently-used order.
    cache.delete(source);
    cache.set(source, cached);
    return cached;
  }
  let template: Nunjucks.Template;
  try {
    template = new (engine().nunjucks.Template)(source, noticeEnvironment(opts.autoescape), opts.name, true);
  } catch (err) {
    throw renderFailure(opts.name, err);
  }
  cache.set(source, template);
  if (cache.size > CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return template;
}

function renderFailure(name: string, err: unknown): TemplateError {
  const error = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as NunjucksError;
  // nunjucks wraps the real error and prefixes its message with the path.
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const detail = cause ? cause.message : (error.message ?? '').replace(/^\([^)]*\)(?: \[[^\]]*\])?\s*/, '');
  // Printing a whole record (a null-prototype object) fails inside nunjucks
  // with a message about toString that would mean nothing to staff.
  const reason = /toString is not a function|Cannot convert object to primitive value/.test(detail)
    ? 'rendering failed: a group of values was printed where a single value was expected; print one of its fields (such as patron.surname) instead'
    : `rendering failed: ${detail}`;
  const line = typeof error.lineno === 'number' && error.lineno > 0 ? error.lineno : undefined;
  const column = line !== undefined && typeof error.colno === 'number' && error.colno > 0 ? error.colno : undefined;
  const where = line === undefined ? '' : column === undefined ? `, line ${line}` : `, line ${line}, column ${column}`;
  return new TemplateError(`Notice template "${name}"${where}: ${reason}`, { template: name, line, column, reason });
}
