import { expect } from 'chai';
import { TemplateError } from '../../sidecar/errors';
import { NOTICE_TEMPLATE_FILTERS, checkNoticeTemplate, renderNoticeTemplate } from '../../sidecar/rendering/safety';
import { EXHAUSTION_TEMPLATES, bigData } from './exhaustion-corpus';

function outcome(source: string, autoescape: boolean): { refusedAt: 'save' | 'render' | null; reason: string; ms: number } {
  const started = performance.now();
  try {
    checkNoticeTemplate(source, 'exhaustion');
  } catch (err) {
    expect(err).to.be.instanceOf(TemplateError);
    return { refusedAt: 'save', reason: (err as Error).message, ms: performance.now() - started };
  }
  try {
    renderNoticeTemplate(source, bigData, { name: 'exhaustion', autoescape });
  } catch (err) {
    expect(err).to.be.instanceOf(TemplateError);
    return { refusedAt: 'render', reason: (err as Error).message, ms: performance.now() - started };
  }
  return { refusedAt: null, reason: '', ms: performance.now() - started };
}

describe('the notice template budget', function () {
  this.timeout(60_000);

  it('has a corpus of at least 30 resource-exhaustion templates', () => {
    expect(EXHAUSTION_TEMPLATES.length).to.be.at.least(30);
  });

  for (const { name, source } of EXHAUSTION_TEMPLATES) {
    for (const autoescape of [false, true]) {
      it(`refuses or stops within a second (${autoescape ? 'HTML' : 'text'}): ${name}`, () => {
        const result = outcome(source, autoescape);
        expect(result.refusedAt, 'neither refused at save nor stopped by the budget').to.not.equal(null);
        if (result.refusedAt === 'render') expect(result.reason).to.match(/budget/);
        expect(result.ms).to.be.below(1000);
      });
    }
  }

  it('still renders a real notice over 500 items', () => {
    const out = renderNoticeTemplate('{% for item in items %}{{ loop.index }}. {{ item.title|truncate(20) }}\n{% endfor %}', bigData, {
      name: 'real',
      autoescape: false,
    });
    expect(out.split('\n')).to.have.length(501);
  });
});

const HOSTILE = `<script>alert(1)</script>&"'`;

/** Each allowed filter with arguments that could undo escaping. */
const FILTER_USES: readonly string[] = [
  'abs',
  'capitalize',
  'center(40)',
  'default("x")',
  'd("x")',
  'escape',
  'e',
  'first',
  'float(0)',
  'indent(2, true)',
  'int(0)',
  'join("")',
  'last',
  'length',
  'lower',
  'nl2br',
  'replace("&lt;", "<")',
  'replace("&gt;", ">")',
  'replace("&amp;", "&")',
  'replace("&#39;", "\'")',
  'replace("&quot;", "\\"")',
  'round(0)',
  'string',
  'striptags(true)',
  'title',
  'trim',
  'truncate(200, true, "")',
  'upper',
  'urlencode',
  'wordcount',
];

describe('HTML escaping of notice data', function () {
  this.timeout(120_000);

  it('covers every allowed filter', () => {
    const used = new Set(FILTER_USES.map((use) => use.replace(/\(.*$/, '')));
    expect(NOTICE_TEMPLATE_FILTERS.filter((f) => !used.has(f))).to.deep.equal([]);
  });

  const chains: string[][] = [];
  for (const a of FILTER_USES) for (const b of FILTER_USES) chains.push([a, b]);
  for (const a of ['escape', 'e', 'nl2br', 'string', 'striptags(true)'])
    for (const b of FILTER_USES) for (const c of FILTER_USES) chains.push([a, b, c]);

  it(`never lets <script from patron data into HTML, over ${FILTER_USES.length}² pairs and many triples`, () => {
    const leaks: string[] = [];
    for (const filters of chains) {
      const source = `<p>{{ patron.surname|${filters.join('|')} }}</p>`;
      let html: string;
      try {
        html = renderNoticeTemplate(source, { patron: { surname: HOSTILE } }, { name: 'chain', autoescape: true });
      } catch (err) {
        // A filter that cannot take what the one before gave (lower of a number) prints nothing.
        expect(err).to.be.instanceOf(TemplateError);
        continue;
      }
      if (/<script/i.test(html)) leaks.push(`${filters.join('|')} -> ${html}`);
    }
    expect(chains.length).to.be.above(4000);
    expect(leaks, leaks.slice(0, 5).join('\n')).to.deep.equal([]);
  });

  it('escapes the value once, with or without escape', () => {
    for (const source of ['{{ patron.surname }}', '{{ patron.surname|escape }}', '{{ patron.surname|e|trim }}']) {
      expect(renderNoticeTemplate(source, { patron: { surname: '<b>' } }, { name: 'once', autoescape: true })).to.equal('&lt;b&gt;');
    }
  });
});
