import { expect } from 'chai';
import * as nunjucks from 'nunjucks';
import { TemplateError } from '../../sidecar/errors';
import {
  NOTICE_TEMPLATE_FILTERS,
  checkNoticeTemplate,
  noticeEnvironmentSummary,
  renderNoticeTemplate,
} from '../../sidecar/rendering/safety';
import { toPlainData } from '../../sidecar/rendering/plain-data';
import { ESCAPES, GOOD_TEMPLATES, UNCHECKED_DATA } from './escape-corpus';

/** Runs `fn`, which must throw a TemplateError, and returns that error. */
function templateErrorFrom(fn: () => unknown): TemplateError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a TemplateError to be thrown').to.be.instanceOf(TemplateError);
  const error = thrown as TemplateError;
  expect(error.code).to.equal('KMC_TEMPLATE_INVALID');
  return error;
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('notice template safety', () => {
  describe('the escape corpus', () => {
    it('is large enough to mean something', () => {
      expect(ESCAPES.length).to.be.greaterThan(60);
      expect(new Set(ESCAPES.map((c) => c.name)).size, 'names are unique').to.equal(ESCAPES.length);
    });

    for (const escape of ESCAPES) {
      it(`refuses at check time: ${escape.name}`, () => {
        const error = templateErrorFrom(() => {
          checkNoticeTemplate(escape.source, 'escape.txt');
        });
        expect(error.message).to.contain('Notice template "escape.txt"');
        expect(error.message).to.contain(`line ${escape.line}, column `);
        expect(error.details.template).to.equal('escape.txt');
        expect(error.details.line).to.equal(escape.line);
        expect(error.details.column).to.be.a('number').and.to.be.greaterThan(0);
        expect(error.details.reason).to.be.a('string').and.to.contain(escape.reason);
        expect(error.message).to.contain(escape.reason);
      });

      it(`refuses when rendering: ${escape.name}`, () => {
        for (const autoescape of [true, false]) {
          const error = templateErrorFrom(() => renderNoticeTemplate(escape.source, UNCHECKED_DATA, { name: 'escape.html', autoescape }));
          expect(error.details.line).to.equal(escape.line);
          expect(error.message).to.contain(escape.reason);
        }
      });
    }

    describe('without the guard, the famous ones really run code', () => {
      const dangerous = ESCAPES.filter((c) => c.runsCodeWhenUnchecked);

      it('has a dozen of them', () => {
        expect(dangerous.length).to.be.at.least(12);
      });

      for (const escape of dangerous) {
        it(`a plain nunjucks Environment prints process.version for: ${escape.name}`, () => {
          const unchecked = new nunjucks.Environment([], { autoescape: true });
          expect(unchecked.renderString(escape.source, UNCHECKED_DATA)).to.contain(process.version);
        });
      }
    });
  });

  describe('where a refusal points', () => {
    it('gives line and column of range.constructor as staff count them', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('Dear patron,\n\n   {{ range.constructor("return process.version")() }}', 'overdue.txt');
      });
      expect(error.details).to.include({ template: 'overdue.txt', line: 3, column: 7 });
      expect(error.message).to.equal('Notice template "overdue.txt", line 3, column 7: "range" is not available in notice templates');
    });

    it('reports a call at its opening parenthesis', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('a\nb\n{{ patron.greet() }}', 't');
      });
      expect(error.message).to.equal('Notice template "t", line 3, column 16: calling functions is not allowed in notice templates');
    });

    it('reports the first problem in reading order', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('{{ ok }}\n{{ x.__proto__ }} {% include "y" %}\n{{ a | safe }}', 't');
      });
      expect(error.details).to.include({ line: 2, column: 6 });
    });

    it('points at the member name for a refused lookup', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('{{ item["constructor"] }}', 't');
      });
      expect(error.details).to.include({ line: 1, column: 9 });
    });

    it('refuses every member of Object.prototype and Function.prototype that leads away from data', () => {
      const names = [...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype)].filter(
        (name) => name !== 'name' && name !== 'length',
      );
      expect(names).to.include.members(['constructor', 'toString', 'apply', 'call', 'bind', '__proto__']);
      for (const name of names) {
        expect(() => {
          checkNoticeTemplate(`{{ x["${name}"] }}`, 't');
        }, `x["${name}"]`).to.throw(TemplateError);
        expect(() => {
          checkNoticeTemplate(`{{ ${name} }}`, 't');
        }, name).to.throw(TemplateError);
      }
    });
  });

  describe('syntax errors', () => {
    it('reports the line of a broken expression', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('Line one\nLine two\n{{ patron.firstname | }}\n', 'broken');
      });
      expect(error.details.line).to.equal(3);
      expect(error.message).to.match(/^Notice template "broken", line 3, column \d+: the template has a syntax error: /);
    });

    it('reports an unclosed if at the end of the template', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('Hej\n{% if fee > 0 %}\nAvgift', 'unclosed');
      });
      expect(error.details).to.include({ line: 3, column: 7 });
      expect(error.details.reason).to.contain('endif');
    });

    it('reports an unknown tag by name', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate('one\n  {% shell "rm -rf /" %}', 'custom');
      });
      expect(error.details).to.include({ line: 2, column: 6 });
      expect(error.details.reason).to.equal('{% shell %} is not a tag notice templates can use');
    });

    it('turns absurd nesting into a refusal instead of a crash', () => {
      const deep = `{{ ${'('.repeat(3000)}1${')'.repeat(3000)} }}`;
      const error = templateErrorFrom(() => {
        checkNoticeTemplate(deep, 'deep');
      });
      expect(error.details.reason).to.equal('the template is nested too deeply');
    });

    it('refuses a template that is not text', () => {
      const error = templateErrorFrom(() => {
        checkNoticeTemplate(Buffer.from('{{ x }}') as unknown as string, 'buffer');
      });
      expect(error.details.reason).to.equal('the template is not text');
    });
  });

  describe('good templates', () => {
    for (const good of GOOD_TEMPLATES) {
      it(`passes the check: ${good.name}`, () => {
        expect(() => {
          checkNoticeTemplate(good.source, good.name);
        }).not.to.throw();
      });

      it(`renders exactly: ${good.name}`, () => {
        const rendered = renderNoticeTemplate(good.source, good.data, { name: good.name, autoescape: good.autoescape });
        expect(rendered).to.equal(good.expected);
      });
    }

    it('renders the same text again from the compiled cache', () => {
      const good = GOOD_TEMPLATES[0];
      const first = renderNoticeTemplate(good.source, good.data, { name: good.name, autoescape: false });
      const second = renderNoticeTemplate(good.source, good.data, { name: good.name, autoescape: false });
      expect(second).to.equal(first).and.to.equal(good.expected);
    });

    it('keeps the escaping mode apart for the same source', () => {
      const source = '{{ x }}';
      expect(renderNoticeTemplate(source, { x: 'a<b' }, { name: 't', autoescape: true })).to.equal('a&lt;b');
      expect(renderNoticeTemplate(source, { x: 'a<b' }, { name: 't', autoescape: false })).to.equal('a<b');
    });
  });

  describe('escaping', () => {
    const source = '<p>Hej {{ patron.firstname }}!</p>';
    const data = { patron: { firstname: '<script>alert("x")</script>' } };

    it('escapes a patron name in HTML bodies', () => {
      expect(renderNoticeTemplate(source, data, { name: 'html', autoescape: true })).to.equal(
        '<p>Hej &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;!</p>',
      );
    });

    it('leaves it alone in plain-text bodies', () => {
      expect(renderNoticeTemplate(source, data, { name: 'text', autoescape: false })).to.equal('<p>Hej <script>alert("x")</script>!</p>');
    });

    it('still escapes on request in plain-text bodies', () => {
      expect(renderNoticeTemplate('{{ patron.firstname | e }}', data, { name: 'text', autoescape: false })).to.equal(
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;',
      );
    });
  });

  describe('the rendering environment', () => {
    for (const autoescape of [true, false]) {
      it(`has no globals and only the allowed filters and tests (autoescape ${autoescape})`, () => {
        const summary = noticeEnvironmentSummary(autoescape);
        expect(summary.globals).to.deep.equal([]);
        expect(summary.filters).to.deep.equal([...NOTICE_TEMPLATE_FILTERS]);
        expect(summary.filters).not.to.include.members(['safe']);
        expect(summary.filters).not.to.include('attr');
        expect(summary.tests).to.deep.equal(['defined', 'even', 'null', 'number', 'odd', 'string', 'undefined']);
      });
    }
  });

  describe('render errors', () => {
    it('names the template when a whole record is printed', () => {
      const error = templateErrorFrom(() =>
        renderNoticeTemplate('Hej\n{{ patron }}', { patron: { firstname: 'Åsa' } }, { name: 'whole-record', autoescape: true }),
      );
      expect(error.details.template).to.equal('whole-record');
      expect(error.message).to.contain('Notice template "whole-record"');
      expect(error.details.reason).to.contain('print one of its fields');
    });

    it('names the template when the data has a cycle', () => {
      const patron: Record<string, unknown> = { firstname: 'Åsa' };
      patron.self = patron;
      const error = templateErrorFrom(() =>
        renderNoticeTemplate('{{ patron.firstname }}', { patron }, { name: 'cyclic', autoescape: false }),
      );
      expect(error.details.template).to.equal('cyclic');
      expect(error.details.reason).to.contain('cycle');
    });

    it('refuses data that is not a set of named values', () => {
      const error = templateErrorFrom(() => renderNoticeTemplate('{{ x }}', ['a'], { name: 'list', autoescape: false }));
      expect(error.details.reason).to.contain('set of named values');
    });

    it('renders with no data at all', () => {
      expect(renderNoticeTemplate('Hej{{ missing }}!', undefined, { name: 'empty', autoescape: true })).to.equal('Hej!');
    });

    it('checks again on every render, so a template changed by hand is refused', () => {
      const saved = 'Hej {{ patron.firstname }}';
      expect(renderNoticeTemplate(saved, UNCHECKED_DATA, { name: 'edited', autoescape: false })).to.equal('Hej Åsa');
      const changed = `${saved}{{ range.constructor("return process.version")() }}`;
      const error = templateErrorFrom(() => renderNoticeTemplate(changed, UNCHECKED_DATA, { name: 'edited', autoescape: false }));
      expect(error.details.reason).to.contain('"range"');
    });
  });
});

describe('toPlainData', () => {
  /** The copy as these tests walk it: every key leads to more of the same (a wrong guess fails the test). */
  interface PlainTree {
    readonly [key: string]: PlainTree;
  }
  const copyOf = (value: unknown): PlainTree => toPlainData(value) as PlainTree;

  it('re-creates objects without prototypes, all the way down', () => {
    const result = copyOf({ patron: { firstname: 'Åsa', address: { city: 'Umeå' } }, items: [{ title: 'A' }] });
    expect(Object.getPrototypeOf(result)).to.equal(null);
    expect(Object.getPrototypeOf(result.patron)).to.equal(null);
    expect(Object.getPrototypeOf(result.patron.address)).to.equal(null);
    expect(Object.getPrototypeOf(result.items[0])).to.equal(null);
    expect(result.patron.address.city).to.equal('Umeå');
    for (const record of [result, result.patron, result.items[0]]) {
      expect(record.constructor).to.equal(undefined);
      expect('constructor' in record).to.equal(false);
      expect('toString' in record).to.equal(false);
    }
  });

  it('keeps strings, finite numbers, booleans, null and arrays', () => {
    const result = copyOf({ s: 'x', n: 1.5, z: 0, t: true, f: false, none: null, list: [1, 'two', [3]] });
    expect(result.s).to.equal('x');
    expect(result.n).to.equal(1.5);
    expect(result.z).to.equal(0);
    expect(result.t).to.equal(true);
    expect(result.f).to.equal(false);
    expect(result.none).to.equal(null);
    expect(result.list).to.deep.equal([1, 'two', [3]]);
    expect(Array.isArray(result.list)).to.equal(true);
  });

  it('drops functions, symbols and undefined from objects, and nulls them in arrays', () => {
    const hidden = Symbol('hidden');
    const result = copyOf({
      keep: 'yes',
      greet: () => 'hi',
      method() {
        return 1;
      },
      sym: Symbol('s'),
      nothing: undefined,
      [hidden]: 'symbol key',
      list: [1, () => 2, undefined, Symbol('x'), 3],
    });
    expect(Object.keys(result).sort()).to.deep.equal(['keep', 'list']);
    expect(Object.getOwnPropertySymbols(result)).to.deep.equal([]);
    expect(result.list).to.deep.equal([1, null, null, null, 3]);
  });

  it('never calls getters or setters, and leaves them out', () => {
    let calls = 0;
    const source = { plain: 1 } as Record<string, unknown>;
    Object.defineProperty(source, 'computed', {
      enumerable: true,
      get: () => {
        calls++;
        return 'secret';
      },
    });
    const list: unknown[] = ['a'];
    Object.defineProperty(list, 1, {
      enumerable: true,
      get: () => {
        calls++;
        return 'b';
      },
    });
    const result = copyOf({ source, list });
    expect(calls).to.equal(0);
    expect(Object.keys(result.source)).to.deep.equal(['plain']);
    expect(result.list).to.deep.equal(['a', null]);
  });

  it('drops class instances, maps, sets, regular expressions and buffers', () => {
    class Patron {
      constructor(public firstname: string) {}
      greet(): string {
        return `Hej ${this.firstname}`;
      }
    }
    const result = copyOf({
      patron: new Patron('Åsa'),
      map: new Map([['a', 1]]),
      set: new Set([1]),
      pattern: /x/,
      bytes: Buffer.from('x'),
      kept: 'yes',
    });
    expect(Object.keys(result)).to.deep.equal(['kept']);
  });

  it('drops proxies without running their handlers', () => {
    let trapped = 0;
    const handler: ProxyHandler<object> = {
      get: () => {
        trapped++;
        return 'x';
      },
      ownKeys: () => {
        trapped++;
        return [];
      },
      getPrototypeOf: () => {
        trapped++;
        return null;
      },
      getOwnPropertyDescriptor: () => {
        trapped++;
        return undefined;
      },
    };
    const result = copyOf({ sneaky: new Proxy({}, handler), list: [new Proxy([], handler)] });
    expect(trapped).to.equal(0);
    expect('sneaky' in result).to.equal(false);
    expect(result.list).to.deep.equal([null]);
  });

  it('turns dates into ISO strings and invalid dates into null', () => {
    const result = copyOf({ due: new Date(Date.UTC(2024, 2, 1, 23, 59)), bad: new Date('not a date') });
    expect(result.due).to.equal('2024-03-01T23:59:00.000Z');
    expect(result.bad).to.equal(null);
  });

  it('turns big integers into text and non-finite numbers into null', () => {
    const result = copyOf({ id: 9007199254740993n, nan: NaN, inf: Infinity, neg: -Infinity });
    expect(result.id).to.equal('9007199254740993');
    expect(result.nan).to.equal(null);
    expect(result.inf).to.equal(null);
    expect(result.neg).to.equal(null);
  });

  it('leaves out an own __proto__ key instead of letting it set a prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    const result = copyOf(parsed);
    expect(Object.getPrototypeOf(result)).to.equal(null);
    expect(Object.keys(result)).to.deep.equal(['ok']);
    expect(result.polluted).to.equal(undefined);
  });

  it('copies a shared object each time it appears', () => {
    const branch = { name: 'Stadsbiblioteket' };
    const result = copyOf({ home: branch, pickup: branch });
    expect(result.home.name).to.equal('Stadsbiblioteket');
    expect(result.pickup.name).to.equal('Stadsbiblioteket');
  });

  it('does not change what it was given', () => {
    const source = { patron: { firstname: 'Åsa', greet: () => 'hi' } };
    toPlainData(source);
    expect(Object.getPrototypeOf(source.patron)).to.equal(Object.prototype);
    expect(source.patron.greet()).to.equal('hi');
  });

  it('throws on a cycle and says where', () => {
    const patron: Record<string, unknown> = { firstname: 'Åsa' };
    patron.items = [{ owner: patron }];
    const error = thrownBy(() => toPlainData({ patron }));
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message)
      .to.contain('cycle')
      .and.to.contain('patron.items[0].owner');
  });

  it('throws on very deep nesting', () => {
    let deep: Record<string, unknown> = { end: true };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    expect(() => toPlainData(deep)).to.throw(RangeError, /levels deep/);
    expect(() => toPlainData(deep, { maxDepth: 200 })).not.to.throw();
  });

  it('throws on a huge sparse array before looping over it', () => {
    const sparse: unknown[] = [];
    sparse.length = 1_000_000_000;
    const started = Date.now();
    expect(() => toPlainData({ sparse })).to.throw(RangeError, /more than/);
    expect(Date.now() - started).to.be.lessThan(1000);
  });

  it('makes a top-level value that is not data into null', () => {
    expect(toPlainData(() => 1)).to.equal(null);
    expect(toPlainData(undefined)).to.equal(null);
    expect(toPlainData('text')).to.equal('text');
  });
});
