/**
 * The expressions of Koha's Template Toolkit letters (what sits inside
 * `[% ... %]` after IF, ELSIF, FOREACH ... IN, or on its own to be printed),
 * turned into the sidecar's template expressions.
 *
 * Understood: dotted names, quoted strings, numbers, parentheses, the
 * comparisons, `&&` `||` `!` and `and` `or` `not`, arithmetic, `_` (joining
 * text), `.size` of a list, and the filters libraries put on values. A call
 * into Koha's own code (`Koha.Preference('LibraryName')`, `Branches.GetName(...)`)
 * cannot be: there is no Koha inside the sidecar.
 */
import { isResolved, resolveTemplateToolkitName, type NameScope, type Resolved } from './names';

export interface Translated {
  expr: string;
  kind: Resolved['kind'];
}

export class ExpressionProblem extends Error {}

interface Token {
  type: 'string' | 'number' | 'op' | 'word';
  text: string;
}

const TOKEN =
  /\s*(?:('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(\d+(?:\.\d+)?)|(==|!=|<=|>=|=>|&&|\|\||[<>!()|,=+\-*/%])|(\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*))/y;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m) throw new ExpressionProblem(`"${source.slice(at).trim()}" is not something the converter understands`);
    at = TOKEN.lastIndex;
    const text = m[0].trim();
    // Which kind matched shows in its first character.
    const type: Token['type'] = /^['"]/.test(text) ? 'string' : /^\d/.test(text) ? 'number' : /^[$A-Za-z_]/.test(text) ? 'word' : 'op';
    tokens.push({ type, text });
  }
  return tokens;
}

/** A Template Toolkit string literal as a template string literal. */
function stringLiteral(text: string): string {
  const quote = text[0];
  const body = text.slice(1, -1);
  if (quote === '"' && /\$/.test(body)) {
    throw new ExpressionProblem(`the string ${text} fills in variables, which the converter cannot follow`);
  }
  const value = quote === "'" ? body.replace(/\\([\\'])/g, '$1') : body.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');
  return JSON.stringify(value);
}

const WORD_OPERATORS: ReadonlyMap<string, string> = new Map([
  ['and', '&&'],
  ['AND', '&&'],
  ['or', '||'],
  ['OR', '||'],
  ['not', '!'],
  ['NOT', '!'],
]);

/**
 * A recursive-descent reader of one expression. Names are resolved as they
 * are read, so an unknown name stops the expression with the reason.
 */
export class ExpressionReader {
  private at = 0;
  /** Notes about names that became something close to, not exactly, Koha's value. */
  readonly notes: string[] = [];

  constructor(
    private readonly tokens: Token[],
    private readonly scope: NameScope,
  ) {}

  get done(): boolean {
    return this.at >= this.tokens.length;
  }

  peek(): Token | undefined {
    if (this.at >= this.tokens.length) return undefined;
    const token = this.tokens[this.at];
    const operator = token.type === 'word' ? WORD_OPERATORS.get(token.text) : undefined;
    return operator ? { type: 'op', text: operator } : token;
  }

  next(): Token | undefined {
    const token = this.peek();
    this.at++;
    return token;
  }

  isOp(text: string): boolean {
    const token = this.peek();
    return token?.type === 'op' && token.text === text;
  }

  expect(text: string): void {
    if (!this.isOp(text)) throw new ExpressionProblem(`"${text}" was expected`);
    this.at++;
  }

  /** The rest of the tokens, as they were written (for a filter's arguments). */
  restText(): string {
    const rest = this.tokens.slice(this.at).map((t) => t.text);
    this.at = this.tokens.length;
    return rest.join(' ');
  }

  /** An expression used as a condition: a list stands for "it has items". */
  condition(): string {
    const value = this.or();
    return value.kind === 'list' ? `${value.expr} | length` : value.expr;
  }

  or(): Translated {
    let left = this.and();
    while (this.isOp('||')) {
      this.at++;
      const right = this.and();
      left = { expr: `${truth(left)} or ${truth(right)}`, kind: 'value' };
    }
    return left;
  }

  private and(): Translated {
    let left = this.not();
    while (this.isOp('&&')) {
      this.at++;
      const right = this.not();
      left = { expr: `${truth(left)} and ${truth(right)}`, kind: 'value' };
    }
    return left;
  }

  private not(): Translated {
    if (this.isOp('!')) {
      this.at++;
      return { expr: `not ${truth(this.not())}`, kind: 'value' };
    }
    return this.compare();
  }

  private compare(): Translated {
    const left = this.sum();
    const token = this.peek();
    if (token?.type === 'op' && ['==', '!=', '<', '>', '<=', '>='].includes(token.text)) {
      this.at++;
      const right = this.sum();
      if (left.kind === 'date' || right.kind === 'date') {
        throw new ExpressionProblem('dates arrive as formatted text in the sidecar and cannot be compared');
      }
      return { expr: `${left.expr} ${token.text} ${right.expr}`, kind: 'value' };
    }
    return left;
  }

  private sum(): Translated {
    let left = this.primary();
    for (;;) {
      const token = this.peek();
      if (token?.type === 'word' && token.text === '_') {
        this.at++;
        left = { expr: `${left.expr} ~ ${this.primary().expr}`, kind: 'value' };
      } else if (token?.type === 'op' && ['+', '-', '*', '/', '%'].includes(token.text)) {
        this.at++;
        left = { expr: `${left.expr} ${token.text} ${this.primary().expr}`, kind: 'value' };
      } else {
        return left;
      }
    }
  }

  private primary(): Translated {
    const token = this.next();
    if (!token) throw new ExpressionProblem('the expression ends too early');
    if (token.type === 'string') return { expr: stringLiteral(token.text), kind: 'value' };
    if (token.type === 'number') return { expr: token.text, kind: 'value' };
    if (token.type === 'op' && token.text === '(') {
      const inner = this.or();
      this.expect(')');
      return { expr: `(${inner.expr})`, kind: inner.kind };
    }
    if (token.type === 'op' && token.text === '-') return { expr: `-${this.primary().expr}`, kind: 'value' };
    if (token.type !== 'word') throw new ExpressionProblem(`"${token.text}" is out of place here`);
    if (this.isOp('(')) {
      throw new ExpressionProblem(`${token.text}(...) calls Koha's own code, which the sidecar does not have`);
    }
    if (token.text.startsWith('$')) throw new ExpressionProblem(`${token.text} is a Koha plugin, not a value`);
    return this.name(token.text);
  }

  private name(dotted: string): Translated {
    const path = dotted.split('.');
    let measured = false;
    // `.size` and `.length` measure the value they follow.
    if (path.length > 1 && (path[path.length - 1] === 'length' || path[path.length - 1] === 'size')) {
      const base = resolveTemplateToolkitName(path.slice(0, -1), this.scope);
      if (isResolved(base)) {
        path.pop();
        measured = true;
      }
    }
    const resolved = resolveTemplateToolkitName(path, this.scope);
    if (!isResolved(resolved)) throw new ExpressionProblem(resolved.problem);
    if (resolved.note) this.notes.push(resolved.note);
    const expr = resolved.expr === '' ? '""' : resolved.expr;
    if (measured) return { expr: `${expr} | length`, kind: 'value' };
    return { expr, kind: resolved.kind };
  }
}

function truth(value: Translated): string {
  return value.kind === 'list' ? `(${value.expr} | length)` : value.expr;
}
