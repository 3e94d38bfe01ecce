/**
 * Notice templates as data, for the template safety tests.
 *
 * ESCAPES are ways a staff-edited template could try to run code, read
 * JavaScript machinery or pull in other files; each must be refused, at the
 * line given, with a reason containing `reason`. Those marked
 * `runsCodeWhenUnchecked` really do print `process.version` when rendered by a
 * plain nunjucks Environment with UNCHECKED_DATA: they show the danger is real.
 *
 * GOOD_TEMPLATES are notices staff are expected to write; each must pass the
 * check and render exactly `expected`.
 */

export interface EscapeCase {
  name: string;
  source: string;
  /** 1-based line the refusal must name. */
  line: number;
  /** Words the refusal reason must contain. */
  reason: string;
  runsCodeWhenUnchecked?: boolean;
}

export interface GoodTemplate {
  name: string;
  source: string;
  data: Record<string, unknown>;
  autoescape: boolean;
  expected: string;
}

/** Data for showing what the escapes do without the guard. */
export const UNCHECKED_DATA = {
  x: 'abc',
  patron: { firstname: 'Åsa', surname: 'Berg' },
  items: [{ title: 'Röda rummet' }],
};

const RUN = '"return process.version"';

export const ESCAPES: EscapeCase[] = [
  // The helpers nunjucks puts in every environment are functions, so their
  // constructor is Function.
  {
    name: 'range constructor',
    source: `Dear patron,\n{{ range.constructor(${RUN})() }}`,
    line: 2,
    reason: '"range" is not available',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'cycler constructor',
    source: `{{ cycler.constructor(${RUN})() }}`,
    line: 1,
    reason: '"cycler" is not available',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'joiner constructor',
    source: `{{ joiner.constructor(${RUN})() }}`,
    line: 1,
    reason: '"joiner" is not available',
    runsCodeWhenUnchecked: true,
  },
  { name: 'joiner on its own', source: '{{ joiner }}', line: 1, reason: '"joiner" is not available' },
  { name: 'range called', source: '{% for i in range(3) %}{{ i }}{% endfor %}', line: 1, reason: '"range" is not available' },
  { name: 'lipsum', source: 'Text:\n{{ lipsum }}', line: 2, reason: '"lipsum" is not available' },

  // Any value leads to Function through two constructor lookups.
  {
    name: 'string literal constructor',
    source: `Hi\n\n{{ "".constructor.constructor(${RUN})() }}`,
    line: 3,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'number literal constructor',
    source: `{{ (1).constructor.constructor(${RUN})() }}`,
    line: 1,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'list literal method constructor',
    source: `{{ [].map.constructor(${RUN})() }}`,
    line: 1,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'data value constructor',
    source: `{{ patron.surname.constructor.constructor(${RUN})() }}`,
    line: 1,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'bare constructor',
    source: `{{ constructor.constructor(${RUN})() }}`,
    line: 1,
    reason: '"constructor" cannot be used',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'constructor in brackets',
    source: `{{ x["constructor"]["constructor"](${RUN})() }}`,
    line: 1,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'constructor built from pieces',
    source: `{{ x['constr' + 'uctor']['constr' + 'uctor'](${RUN})() }}`,
    line: 1,
    reason: 'computed name',
    runsCodeWhenUnchecked: true,
  },
  { name: 'proto built from pieces', source: "{{ x['__pro' + 'to__'] }}", line: 1, reason: 'computed name' },
  { name: 'key from a variable', source: 'Fee:\n{{ patron[field] }}', line: 2, reason: 'computed name' },
  { name: 'negative index', source: '{{ items[-1] }}', line: 1, reason: 'computed name' },
  { name: 'fractional index', source: '{{ items[0.5] }}', line: 1, reason: 'computed name' },
  { name: '__proto__ by dot', source: '{{ x.__proto__ }}', line: 1, reason: 'starting with "_"' },
  { name: '__proto__ in brackets', source: '{{ x["__proto__"] }}', line: 1, reason: 'starting with "_"' },
  { name: '__defineGetter__', source: '{{ x.__defineGetter__ }}', line: 1, reason: 'starting with "_"' },
  { name: 'prototype', source: '{{ x.prototype }}', line: 1, reason: '"prototype" cannot be looked up' },
  { name: 'hasOwnProperty', source: '{{ x.hasOwnProperty }}', line: 1, reason: '"hasOwnProperty" cannot be looked up' },
  { name: 'valueOf', source: '{{ patron.valueOf }}', line: 1, reason: '"valueOf" cannot be looked up' },
  { name: 'bare toString', source: '{{ toString }}', line: 1, reason: '"toString" cannot be used' },
  { name: 'bare arguments', source: '{{ arguments }}', line: 1, reason: '"arguments" cannot be used' },
  { name: 'underscore variable', source: '{{ _private }}', line: 1, reason: 'starting with "_"' },
  { name: 'this', source: '{{ this }}', line: 1, reason: '"this" is not available' },
  { name: 'self', source: '{{ self }}', line: 1, reason: '"self" is not available' },
  { name: 'quote inside a name', source: '{{ a"b }}', line: 1, reason: 'is not a name' },

  // Calls of any kind.
  { name: 'plain call', source: 'Hello\n{{ patron.name() }}', line: 2, reason: 'calling functions' },
  { name: 'caller()', source: '{{ caller() }}', line: 1, reason: '"caller" is not available' },
  { name: 'bare caller', source: '{{ caller }}', line: 1, reason: '"caller" is not available' },
  { name: 'super()', source: '{{ super() }}', line: 1, reason: '"super" is not available' },
  {
    name: 'call hidden in an inline if',
    source: `{{ range.constructor(${RUN})() if true }}`,
    line: 1,
    reason: '"range" is not available',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'call hidden in a condition',
    source: `{% if x != range.constructor(${RUN})() %}yes{% endif %}`,
    line: 1,
    reason: '"range" is not available',
  },

  // The loop object is an ordinary object too.
  {
    name: 'loop constructor',
    source: `{% for i in items %}\n{{ loop.constructor.constructor(${RUN})() }}{% endfor %}`,
    line: 2,
    reason: '"loop.constructor" is not available',
    runsCodeWhenUnchecked: true,
  },
  { name: 'loop outside a for', source: '{{ loop.index }}', line: 1, reason: '"loop" can only be used inside {% for %}' },
  { name: 'bare loop', source: '{% for i in items %}{{ loop }}{% endfor %}', line: 1, reason: '"loop" can only be used' },
  {
    name: 'loop index constructor',
    source: '{% for i in items %}{{ loop.index.constructor }}{% endfor %}',
    line: 1,
    reason: '"constructor" cannot be looked up',
  },
  {
    name: 'loop item constructor',
    source: `{% for i in items %}{{ i.constructor.constructor(${RUN})() }}{% endfor %}`,
    line: 1,
    reason: '"constructor" cannot be looked up',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'loop variable named constructor',
    source: '{% for constructor in items %}{{ constructor }}{% endfor %}',
    line: 1,
    reason: '"constructor" cannot be used',
  },
  { name: 'loop variable named loop', source: '{% for loop in items %}{{ loop }}{% endfor %}', line: 1, reason: '"loop" can only be used' },
  {
    name: 'three loop variables',
    source: '{% for a, b, c in items %}{{ a }}{% endfor %}',
    line: 1,
    reason: 'takes one name, or two names',
  },

  // Tags that define, import or pull in other things.
  {
    name: 'set to a function',
    source: `{% set f = range.constructor %}{{ f(${RUN})() }}`,
    line: 1,
    reason: '{% set %} is not allowed',
    runsCodeWhenUnchecked: true,
  },
  { name: 'set block', source: 'A\n{% set body %}x{% endset %}', line: 2, reason: '{% set %} is not allowed' },
  { name: 'set with whitespace control', source: '{%- set x = 1 -%}', line: 1, reason: '{% set %} is not allowed' },
  { name: 'include a file', source: 'Hello\n{% include "/etc/passwd" %}', line: 2, reason: '{% include %} is not allowed' },
  { name: 'include by variable', source: '{% include x %}', line: 1, reason: '{% include %} is not allowed' },
  { name: 'import', source: '{% import "macros.njk" as m %}', line: 1, reason: '{% import %} is not allowed' },
  { name: 'from import', source: '\n\n{% from "macros.njk" import footer %}', line: 3, reason: '{% from ... import %} is not allowed' },
  { name: 'extends', source: '{% extends "base.njk" %}', line: 1, reason: '{% extends %} is not allowed' },
  { name: 'block', source: '{% block body %}x{% endblock %}', line: 1, reason: '{% block %} is not allowed' },
  {
    name: 'macro',
    source: '{% macro greet(n) %}Hi {{ n }}{% endmacro %}{{ greet("Åsa") }}',
    line: 1,
    reason: '{% macro %} is not allowed',
  },
  { name: 'call block', source: 'x\n{% call greet() %}x{% endcall %}', line: 2, reason: '{% call %} is not allowed' },
  { name: 'filter block', source: '{% filter upper %}x{% endfilter %}', line: 1, reason: '{% filter %} blocks are not allowed' },
  {
    name: 'filter block with safe',
    source: '{% filter safe %}<b>{{ x }}</b>{% endfilter %}',
    line: 1,
    reason: '{% filter %} blocks are not allowed',
  },
  { name: 'switch', source: '{% switch x %}{% case 1 %}a{% endswitch %}', line: 1, reason: '{% switch %} is not allowed' },
  { name: 'asyncEach', source: '{% asyncEach i in items %}{{ i }}{% endeach %}', line: 1, reason: '{% asyncEach %} is not allowed' },
  { name: 'asyncAll', source: '{% asyncAll i in items %}{{ i }}{% endall %}', line: 1, reason: '{% asyncAll %} is not allowed' },
  { name: 'ifAsync', source: '{% ifAsync x %}y{% endif %}', line: 1, reason: '{% ifAsync %} is not allowed' },
  { name: 'unknown tag', source: 'a\nb\n{% exec "ls" %}', line: 3, reason: '{% exec %} is not a tag' },

  // Filters outside the allow-list, and allowed filters given dangerous arguments.
  { name: 'safe', source: 'Hi {{ x | safe }}', line: 1, reason: 'the filter "safe" is not allowed' },
  { name: 'attr', source: '{{ x | attr("constructor") }}', line: 1, reason: 'the filter "attr" is not allowed' },
  { name: 'dump', source: '{{ patron | dump }}', line: 1, reason: 'the filter "dump" is not allowed' },
  {
    name: 'sort by attribute',
    source: '{{ items | sort(false, false, "constructor") }}',
    line: 1,
    reason: 'the filter "sort" is not allowed',
  },
  { name: 'selectattr', source: '{{ items | selectattr("constructor") }}', line: 1, reason: 'the filter "selectattr" is not allowed' },
  { name: 'select with a test name', source: '{{ items | select("callable") }}', line: 1, reason: 'the filter "select" is not allowed' },
  { name: 'groupby', source: '{{ items | groupby("constructor") }}', line: 1, reason: 'the filter "groupby" is not allowed' },
  { name: 'dotted filter name', source: '{{ x | a.b }}', line: 1, reason: 'the filter "a.b" is not allowed' },
  { name: 'join with an attribute', source: '{{ items | join(", ", "constructor") }}', line: 1, reason: 'takes at most 1 argument' },
  {
    name: 'call as a filter argument',
    source: `{{ missing | default(range.constructor(${RUN})()) }}`,
    line: 1,
    reason: '"range" is not available',
    runsCodeWhenUnchecked: true,
  },
  {
    name: 'variable as replace argument',
    source: '{{ x | replace("a", patron.surname) }}',
    line: 1,
    reason: 'argument 2 of the filter "replace" must be a fixed text',
  },
  {
    name: 'regular expression as replace argument',
    source: '{{ x | replace(r/a/g, "b") }}',
    line: 1,
    reason: 'argument 1 of the filter "replace" must be a fixed text',
  },
  { name: 'regular expression literal', source: '{{ r/a/g }}', line: 1, reason: 'regular expressions' },
  { name: 'named filter argument', source: '{{ x | truncate(length=5) }}', line: 1, reason: 'named arguments' },
  {
    name: 'huge width',
    source: '{{ x | center(100000000) }}',
    line: 1,
    reason: 'argument 1 of the filter "center" must be a whole number',
  },

  // `is` puts the test's name straight into the compiled JavaScript.
  {
    name: 'is with a string test name',
    source: `{{ "x" is 'defined") ? process.version : ("' }}`,
    line: 1,
    reason: 'only these tests can follow "is"',
    runsCodeWhenUnchecked: true,
  },
  { name: 'is callable', source: '{{ x is callable }}', line: 1, reason: 'only these tests can follow "is"' },

  // Other syntax outside the allow-list.
  { name: 'dictionary literal', source: '{{ {"__proto__": x} }}', line: 1, reason: 'dictionaries' },
  { name: 'comma in parentheses', source: '{{ (x, patron) }}', line: 1, reason: 'parentheses may hold only one expression' },
];

export const GOOD_TEMPLATES: GoodTemplate[] = [
  {
    name: 'overdue notice in Swedish',
    source: [
      'Hej {{ patron.firstname }},',
      '',
      '{% if items | length == 1 %}Ett lån har förfallit:{% else %}{{ items | length }} lån har förfallit:{% endif %}',
      '{% for item in items -%}',
      '{{ loop.index }}. {{ item.title }} / {{ item.author | default("okänd författare", true) }} ({{ item.barcode }}), förföll {{ item.due_date }}',
      '{% endfor -%}',
      '{% if fee > 0 %}Avgift: {{ fee | round(2) }} kr{% else %}Inga avgifter.{% endif %}',
      '',
      'Vänliga hälsningar',
      '{{ branch.name }}',
      '',
    ].join('\n'),
    data: {
      patron: { firstname: 'Åsa', surname: 'Berg' },
      items: [
        { title: 'Röda rummet', author: 'August Strindberg', barcode: '39999000001', due_date: '2024-03-01' },
        { title: 'Pippi Långstrump', author: null, barcode: '39999000002', due_date: '2024-03-04' },
      ],
      fee: 12.5,
      branch: { name: 'Stadsbiblioteket' },
    },
    autoescape: false,
    expected: [
      'Hej Åsa,',
      '',
      '2 lån har förfallit:',
      '1. Röda rummet / August Strindberg (39999000001), förföll 2024-03-01',
      '2. Pippi Långstrump / okänd författare (39999000002), förföll 2024-03-04',
      'Avgift: 12.5 kr',
      '',
      'Vänliga hälsningar',
      'Stadsbiblioteket',
      '',
    ].join('\n'),
  },
  {
    name: 'single loan in Swedish',
    source: 'Hej {{ patron.firstname }}, lånet förföll {{ items[0].due_date }}.',
    data: { patron: { firstname: 'Åsa' }, items: [{ due_date: '2024-03-01' }] },
    autoescape: false,
    expected: 'Hej Åsa, lånet förföll 2024-03-01.',
  },
  {
    name: 'German closing without a fee',
    source: '{% if fee > 0 %}Gebühr: {{ fee }} €{% else %}Keine Gebühren.{% endif %}\nSchöne Grüße\n{{ branch.name }}',
    data: { fee: 0, branch: { name: 'Stadtbücherei Köln' } },
    autoescape: false,
    expected: 'Keine Gebühren.\nSchöne Grüße\nStadtbücherei Köln',
  },
  {
    name: 'HTML overdue list',
    source: '<ul>{% for item in items %}<li>{{ item.title }} ({{ item.barcode }})</li>{% endfor %}</ul>',
    data: {
      items: [
        { title: 'Tom & Jerry <3', barcode: 'B1' },
        { title: 'Faust', barcode: 'B2' },
      ],
    },
    autoescape: true,
    expected: '<ul><li>Tom &amp; Jerry &lt;3 (B1)</li><li>Faust (B2)</li></ul>',
  },
  {
    name: 'key and value loop',
    source: '{% for code, amount in fees %}{{ code }}={{ amount }}{% if not loop.last %}, {% endif %}{% endfor %}',
    data: { fees: { OVERDUE: 5, LOST: 120 } },
    autoescape: false,
    expected: 'OVERDUE=5, LOST=120',
  },
  {
    name: 'loop helpers',
    source:
      '{% for item in items %}{% if loop.first %}[{% endif %}{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.length }}{% if loop.last %}]{% else %} {% endif %}{% endfor %}',
    data: { items: ['a', 'b', 'c'] },
    autoescape: false,
    expected: '[0/3/3 1/2/3 2/1/3]',
  },
  {
    name: 'for with else',
    source: '{% for item in items %}{{ item.title }}{% else %}Inga lån.{% endfor %}',
    data: { items: [] },
    autoescape: false,
    expected: 'Inga lån.',
  },
  {
    name: 'tests and in',
    source:
      '{% if patron.email is defined %}E-post: {{ patron.email }}{% endif %}{% if patron.phone is none %} (inget telefonnummer){% endif %}{% if patron.category in ["ST", "PT"] %} [personal]{% endif %}{% if patron.age is not number %} ?{% endif %}',
    data: { patron: { email: 'asa@example.org', phone: null, category: 'ST', age: 'unknown' } },
    autoescape: false,
    expected: 'E-post: asa@example.org (inget telefonnummer) [personal] ?',
  },
  {
    name: 'allowed filters',
    source:
      '{{ "  röda rummet  " | trim | title }}|{{ name | upper }}|{{ name | lower }}|{{ "hELLO" | capitalize }}|{{ title | truncate(9, true, "…") }}|{{ "a-b-c" | replace("-", "/") }}|{{ tags | join(", ") }}|{{ tags | first }}|{{ tags | last }}|{{ "<b>fet</b> text" | striptags }}|{{ -3.5 | abs }}|{{ "42" | int }}|{{ "2.5" | float }}|{{ 12.5 | round }}|{{ 12.1 | round(0, "ceil") }}|{{ "a b c" | wordcount }}|{{ "å ä" | urlencode }}|{{ 7 | string }}|{{ "x" | center(5) }}|{{ "a\nb" | indent(2) }}|{{ missing | d("-") }}',
    data: { name: 'Åsa Berg', title: 'Pippi Långstrump', tags: ['x', 'y'] },
    autoescape: false,
    expected: 'Röda Rummet|ÅSA BERG|åsa berg|Hello|Pippi Lån…|a/b/c|x, y|x|y|fet text|3.5|42|2.5|13|13|3|%C3%A5%20%C3%A4|7|  x  |a\n  b|-',
  },
  {
    name: 'escaped note with line breaks',
    source: '<p>{{ note | escape | nl2br }}</p>',
    data: { note: 'Rad 1\nRad <2>' },
    autoescape: true,
    expected: '<p>Rad 1<br />\nRad &lt;2&gt;</p>',
  },
  {
    name: 'arithmetic, joining and inline if',
    source:
      '{{ (fee + 2) * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 10 / 4 }} {{ "lån" ~ "et" }} {{ "item" if n == 1 else "items" }} {{ n - 1 }} {{ -n }}',
    data: { fee: 1, n: 2 },
    autoescape: false,
    expected: '9 3 1 8 2.5 lånet items 1 -2',
  },
  {
    name: 'member lookups',
    source: '{{ item["due date"] }} {{ items[1].title }} {{ patron.name }} {{ patron["name"] }} {{ items.length }} {{ missing.field }}.',
    data: { item: { 'due date': '2024-03-01' }, items: [{ title: 'A' }, { title: 'B' }], patron: { name: 'Åsa' } },
    autoescape: false,
    expected: '2024-03-01 B Åsa Åsa 2 .',
  },
  {
    name: 'comments and raw',
    source: '{# staff note: keep it short #}Use {% raw %}{{ and }}{% endraw %} literally.',
    data: {},
    autoescape: false,
    expected: 'Use {{ and }} literally.',
  },
  {
    name: 'conditions',
    source: '{% if fee >= 10 and not blocked or vip %}A{% elif fee > 0 %}B{% else %}C{% endif %}',
    data: { fee: 5, blocked: false, vip: false },
    autoescape: false,
    expected: 'B',
  },
  {
    name: 'date from the data',
    source: 'Due {{ due | truncate(10, true, "") }}',
    data: { due: new Date(Date.UTC(2024, 2, 1, 12, 30)) },
    autoescape: false,
    expected: 'Due 2024-03-01',
  },
];
