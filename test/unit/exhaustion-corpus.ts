/** Notice templates written to exhaust the process (issue 11, finding 1), and data as large as a run may give them. */
/** Notice data as large as a real run may hand a template: many items, long titles. */
export const bigData = {
  patron: { surname: 'Lindqvist'.repeat(20), firstname: 'Anna\nMaria\nEva'.repeat(50) },
  tags: Array.from({ length: 500 }, (_, i) => `tag${i}`),
  items: Array.from({ length: 500 }, (_, i) => ({ title: `Title ${i} `.repeat(100), author: 'A\nB\nC' })),
};

const nest = (depth: number, source: string, body: string): string =>
  `${`{% for a${depth} in ${source} %}`.repeat(1)}${depth > 1 ? nest(depth - 1, source, body) : body}{% endfor %}`;
const chain = (start: string, filter: string, times: number): string => `{{ ${start}${`|${filter}`.repeat(times)} }}`;
const literalList = `[${Array.from({ length: 10 }, () => '0').join(',')}]`;

/** Templates written to exhaust the process: each must be refused at save or stopped by the budget. */
export const EXHAUSTION_TEMPLATES: ReadonlyArray<{ name: string; source: string }> = [
  { name: 'array literal loops nested seven deep', source: nest(7, literalList, 'x') },
  { name: 'one loop over an array literal', source: `{% for a in ${literalList} %}x{% endfor %}` },
  {
    name: 'loop over a string literal',
    source: `{% for c in "${'a'.repeat(1000)}" %}{% for d in "${'a'.repeat(1000)}" %}x{% endfor %}{% endfor %}`,
  },
  { name: 'loop over a dictionary literal', source: '{% for k, v in {a: 1, b: 2} %}x{% endfor %}' },
  { name: 'loop over a filtered value', source: '{% for a in items|first %}x{% endfor %}' },
  { name: 'data loops nested four deep', source: nest(4, 'items', 'x') },
  { name: 'data loops nested three deep', source: nest(3, 'items', '{{ a1.title }}') },
  { name: 'data loops nested three deep, static text', source: nest(3, 'items', 'y'.repeat(500)) },
  { name: 'loops over a long string nested three deep', source: nest(3, 'items[0].title', 'x') },
  {
    name: 'loops over a long string with key/value',
    source: '{% for k, v in items %}{% for a in items %}{% for b in items %}x{% endfor %}{% endfor %}{% endfor %}',
  },
  { name: 'replace with an empty search string', source: chain('"ab"', 'replace("", "ab")', 30) },
  { name: 'replace with an empty search string, once', source: '{{ patron.surname|replace("", "abc") }}' },
  { name: 'replace growing a character', source: chain('"aa"', 'replace("a", "aaaa")', 30) },
  { name: 'replace growing a data value', source: chain('patron.surname', 'replace("i", "iiiiiiii")', 20) },
  { name: 'center widening', source: chain('"x"', 'center(1000)', 1) + nest(3, 'items', chain('a1.title', 'center(1000)', 1)) },
  { name: 'indent growth on many lines', source: chain('patron.firstname', 'indent(1000, true)', 10) },
  { name: 'nl2br growth', source: nest(3, 'items', chain('patron.firstname', 'nl2br', 3)) },
  { name: 'escape growth in text', source: chain('patron.firstname', 'replace("a", "&&&&&&&&")|escape|replace("&", "&&&&")', 10) },
  { name: 'urlencode growth', source: chain('"<>&<>&"', 'urlencode|replace("%", "%%%%")', 12) },
  { name: 'join of a long list inside loops', source: nest(3, 'items', '{{ tags|join("-----") }}') },
  { name: 'truncate with a long end text', source: nest(3, 'items', `{{ a1.title|truncate(5, true, "${'z'.repeat(1000)}") }}`) },
  { name: 'concatenation inside loops', source: nest(3, 'items', '{{ a1.title ~ a2.title ~ a3.title }}') },
  { name: 'addition of strings inside loops', source: nest(3, 'items', '{{ a1.title + a2.title }}') },
  { name: 'default fallback growth', source: chain('missing', `default("${'q'.repeat(200)}")|replace("q", "qqqqqq")`, 12) },
  { name: 'upper and replace growth', source: chain('"ab"', 'upper|replace("A", "AAAAAA")', 15) },
  { name: 'title and replace growth', source: chain('"a b"', 'title|replace(" ", "     ")', 15) },
  { name: 'string and replace growth', source: chain('123', 'string|replace("1", "1111111")', 15) },
  { name: 'trim and replace growth', source: chain('" a "', 'trim|replace("a", "aaaaaaa")', 15) },
  { name: 'capitalize and replace growth', source: chain('"ab"', 'capitalize|replace("b", "bbbbbb")', 15) },
  { name: 'deep if nesting inside loops', source: nest(3, 'items', `${'{% if true %}'.repeat(150)}x${'{% endif %}'.repeat(150)}`) },
  { name: 'deeply nested parentheses', source: `{{ ${'('.repeat(5000)}1${')'.repeat(5000)} }}` },
  { name: 'set-based doubling', source: '{% set s = "ab" %}{% for a in items %}{% set s = s ~ s %}{% endfor %}{{ s }}' },
  { name: 'range calls', source: '{% for a in range(100000000) %}x{% endfor %}' },
  { name: 'nested loops with item lookups', source: nest(3, 'items', '{{ items[0].title }}{{ items[1].title }}') },
  {
    name: 'loop over an in-list',
    source:
      '{% for a in items %}{% if a.title not in ["x", "y"] %}{% for b in items %}{% for c in items %}x{% endfor %}{% endfor %}{% endif %}{% endfor %}',
  },
];
