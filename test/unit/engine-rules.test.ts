import { expect } from 'chai';
import { OverdueRuleChain, resolveRule, validateRuleInput, type Rule, type RuleInput, type RuleSubject } from '../../sidecar/rules';
import { allowedChannels, chooseAllChannels } from '../../sidecar/contact';
import type { PatronContact } from '../../sidecar/host';

let nextId = 100;
const rule = (over: Partial<Rule>): Rule => ({
  id: nextId++,
  message_type: 'overdue',
  level: 1,
  branchcode: null,
  categorycode: null,
  itemtype: null,
  valid_from: null,
  valid_to: null,
  is_used: true,
  delay_days: 7,
  channels: ['email', 'print'],
  send_all_channels: false,
  template_code: null,
  fee_per_notice: 0,
  fee_per_item: 0,
  digest: true,
  is_baseline: false,
  ...over,
});

const on = (date: string, branchcode: string | null, categorycode: string | null, itemtype: string | null): RuleSubject => ({
  branchcode,
  categorycode,
  itemtype,
  date,
});

describe('engine: rule resolution, table by table', () => {
  // Made in this order, so a later one is "newer" (a higher id).
  const baseline = rule({ is_baseline: true, delay_days: 7 });
  const itemDvd = rule({ itemtype: 'DVD', delay_days: 3 });
  const catChild = rule({ categorycode: 'CHILD', delay_days: 14 });
  const catChildDvd = rule({ categorycode: 'CHILD', itemtype: 'DVD', delay_days: 5 });
  const branchCen = rule({ branchcode: 'CEN', delay_days: 10 });
  const branchCenDvd = rule({ branchcode: 'CEN', itemtype: 'DVD', delay_days: 2 });
  const branchCenChild = rule({ branchcode: 'CEN', categorycode: 'CHILD', delay_days: 21 });
  const summerCen = rule({ branchcode: 'CEN', valid_from: '2026-06-15', valid_to: '2026-08-15', delay_days: 30 });
  const openEndedChild = rule({ categorycode: 'CHILD', valid_from: '2026-12-01', delay_days: 28 });
  const newerChild = rule({ categorycode: 'CHILD', delay_days: 15 });
  const expiredHaf = rule({ branchcode: 'HAF', valid_to: '2026-01-31', delay_days: 60 });
  const rules = [
    baseline,
    itemDvd,
    catChild,
    catChildDvd,
    branchCen,
    branchCenDvd,
    branchCenChild,
    summerCen,
    openEndedChild,
    newerChild,
    expiredHaf,
  ];

  const table: Array<[string, RuleSubject, Rule]> = [
    ['nothing specific applies: the baseline', on('2026-11-24', 'OST', 'ADULT', 'BK'), baseline],
    ['item type alone beats the baseline', on('2026-11-24', 'OST', 'ADULT', 'DVD'), itemDvd],
    ['patron category outranks item type', on('2026-11-24', 'OST', 'CHILD', 'BK'), newerChild],
    ['category + item type outranks category alone', on('2026-11-24', 'OST', 'CHILD', 'DVD'), catChildDvd],
    ['branch outranks category + item type', on('2026-11-24', 'CEN', 'ADULT', 'DVD'), branchCenDvd],
    ['branch alone outranks category + item type', on('2026-11-24', 'CEN', 'X', 'BK'), branchCen],
    ['branch + category outranks branch + item type', on('2026-11-24', 'CEN', 'CHILD', 'DVD'), branchCenChild],
    ['between equals the newer wins (two category rules)', on('2026-11-24', 'OST', 'CHILD', 'CD'), newerChild],
    ['between equals, one with a validity window wins over the newer without', on('2026-12-24', 'OST', 'CHILD', 'CD'), openEndedChild],
    ['an open-ended window applies from its first day', on('2026-12-01', 'OST', 'CHILD', 'CD'), openEndedChild],
    ['... and not the day before', on('2026-11-30', 'OST', 'CHILD', 'CD'), newerChild],
    ['inside a window: the windowed branch rule', on('2026-07-01', 'CEN', 'ADULT', 'BK'), summerCen],
    ["on the window's first day", on('2026-06-15', 'CEN', 'ADULT', 'BK'), summerCen],
    ["on the window's last day", on('2026-08-15', 'CEN', 'ADULT', 'BK'), summerCen],
    ['the day after the window: the plain branch rule again', on('2026-08-16', 'CEN', 'ADULT', 'BK'), branchCen],
    ['a window never outranks a more specific rule', on('2026-07-01', 'CEN', 'CHILD', 'BK'), branchCenChild],
    ['an expired rule no longer applies: the baseline', on('2026-11-24', 'HAF', 'ADULT', 'BK'), baseline],
    ['... but applied while valid', on('2026-01-31', 'HAF', 'ADULT', 'BK'), expiredHaf],
  ];
  for (const [name, subject, expected] of table) {
    it(name, () => expect(resolveRule(rules, subject)?.id).to.equal(expected.id));
  }

  it('without even a baseline, nothing applies', () => {
    expect(resolveRule([branchCen], on('2026-11-24', 'OST', 'ADULT', 'BK'))).to.equal(null);
  });

  it('gives the same answer whatever order the rules come in', () => {
    const shuffled = [...rules].reverse();
    for (const [, subject, expected] of table) expect(resolveRule(shuffled, subject)?.id).to.equal(expected.id);
  });
});

describe('engine: overdue levels and unused levels', () => {
  const level = (n: number, over: Partial<Rule> = {}) => rule({ level: n, is_baseline: true, delay_days: n === 1 ? 7 : 14, ...over });
  const chainOf = (rules: Rule[]) => {
    const m = new Map<number, Rule[]>();
    for (const r of rules) m.set(r.level, [...(m.get(r.level) ?? []), r]);
    return new OverdueRuleChain(m);
  };
  const adult = on('2026-11-24', 'CEN', 'ADULT', 'BK');
  const child = on('2026-11-24', 'CEN', 'CHILD', 'BK');

  const cases: Array<[string, Rule[], RuleSubject, Array<number | null>, number]> = [
    ['all five used: every level, the last is 5', [level(1), level(2), level(3), level(4), level(5)], adult, [7, 14, 14, 14, 14], 5],
    [
      'level 4 not used: 4 and 5 are never sent',
      [level(1), level(2), level(3), level(4, { is_used: false }), level(5)],
      adult,
      [7, 14, 14, null, null],
      3,
    ],
    [
      'level 2 not used: a used level 3 is never reached',
      [level(1), level(2, { is_used: false }), level(3), level(4), level(5)],
      adult,
      [7, null, null, null, null],
      1,
    ],
    [
      'level 1 not used: no overdue notice at all',
      [level(1, { is_used: false }), level(2), level(3), level(4), level(5)],
      adult,
      [null, null, null, null, null],
      0,
    ],
    [
      'a category rule stops level 3 for children only',
      [level(1), level(2), level(3), rule({ level: 3, categorycode: 'CHILD', is_used: false }), level(4, { is_used: false }), level(5)],
      child,
      [7, 14, null, null, null],
      2,
    ],
    [
      '... while adults still get level 3',
      [level(1), level(2), level(3), rule({ level: 3, categorycode: 'CHILD', is_used: false }), level(4, { is_used: false }), level(5)],
      adult,
      [7, 14, 14, null, null],
      3,
    ],
    [
      "a branch rule changes a level's delay",
      [level(1), level(2), rule({ level: 2, branchcode: 'CEN', delay_days: 30 }), level(3, { is_used: false })],
      adult,
      [7, 30, null, null, null],
      2,
    ],
    ['a missing level counts as not used', [level(1), level(2)], adult, [7, 14, null, null, null], 2],
  ];
  for (const [name, rules, subject, delays, last] of cases) {
    it(name, () => {
      const chain = chainOf(rules);
      expect([1, 2, 3, 4, 5].map((l) => chain.levelRule(l, subject)?.delay_days ?? null)).to.deep.equal(delays);
      expect(chain.lastUsedLevel(subject)).to.equal(last);
    });
  }
});

describe('engine: the level Koha sends a loan at its age (a first run on a live library)', () => {
  const level = (n: number, over: Partial<Rule> = {}) => rule({ level: n, is_baseline: true, delay_days: n === 1 ? 7 : 14, ...over });
  const chain = (rules: Rule[]) => {
    const m = new Map<number, Rule[]>();
    for (const r of rules) m.set(r.level, [...(m.get(r.level) ?? []), r]);
    return new OverdueRuleChain(m);
  };
  const adult = on('2026-11-24', 'CEN', 'ADULT', 'BK');
  const three = chain([level(1), level(2), level(3), level(4, { is_used: false }), level(5)]);

  it("counts Koha's delays from the due date: ours added up (7, 21, 35 days)", () => {
    const at = (age: number) => three.levelAtAge(adult, age)?.level ?? null;
    expect([0, 6, 7, 20, 21, 34, 35, 400].map(at)).to.deep.equal([null, null, 1, 1, 2, 2, 3, 3]);
  });

  it('stops at a level not used, and gives the rule of the level it chose', () => {
    const noTwo = chain([level(1), level(2, { is_used: false }), level(3)]);
    expect(noTwo.levelAtAge(adult, 100)?.level).to.equal(1);
    expect(three.levelAtAge(adult, 25)?.rule.level).to.equal(2);
    expect(chain([level(1, { is_used: false })]).levelAtAge(adult, 100)).to.equal(null);
  });
});

describe('engine: rule input is checked before it is stored', () => {
  const refused: Array<[string, RuleInput, RegExp]> = [
    ['an unknown type', { message_type: 'fax' as never }, /unknown message type "fax"/],
    ['overdue level 6', { message_type: 'overdue', level: 6 }, /level from 1 to 5/],
    ['a level on a type without levels', { message_type: 'predue', level: 2 }, /predue rules have no level/],
    ['a bad date', { message_type: 'overdue', valid_from: '24/11/2026' }, /valid_from must be a date YYYY-MM-DD/],
    [
      'a window that ends before it starts',
      { message_type: 'overdue', valid_from: '2026-12-01', valid_to: '2026-11-01' },
      /is after valid_to/,
    ],
    ['a negative delay', { message_type: 'overdue', delay_days: -1 }, /delay_days must be a whole number/],
    ['a negative fee', { message_type: 'overdue', fee_per_item: -5 }, /fee_per_item must be an amount/],
    ['an unknown channel', { message_type: 'overdue', channels: ['email', 'fax' as never] }, /unknown channel "fax"/],
    ['a used rule without channels', { message_type: 'overdue', channels: [] }, /at least one channel/],
    ['a branch code with spaces', { message_type: 'overdue', branchcode: 'C P L' }, /branchcode must be a Koha code/],
  ];
  for (const [name, input, why] of refused)
    it(`refuses ${name}`, () =>
      expect(() => {
        validateRuleInput(input);
      }).to.throw(why));
  it('takes a good rule', () =>
    expect(() => {
      validateRuleInput({ message_type: 'overdue', level: 2, branchcode: 'CEN', delay_days: 14, channels: ['sms', 'print'] });
    }).not.to.throw());
});

describe('engine: channels the patron chose, and "all channels"', () => {
  const patron = (over: Partial<PatronContact> = {}): PatronContact => ({
    borrowernumber: 1,
    cardnumber: 'C1',
    surname: 'Öberg',
    firstname: 'Åsa',
    title: null,
    email: 'asa@example.org',
    emailpro: null,
    B_email: null,
    mobile: '070-123 45 67',
    smsalertnumber: null,
    phone: null,
    lang: 'sv-SE',
    branchcode: 'CEN',
    categorycode: 'ADULT',
    address: 'Ängsvägen 3',
    address2: null,
    zipcode: '123 45',
    city: 'Solna',
    country: null,
    ...over,
  });

  const table: Array<[string, Parameters<typeof allowedChannels>, string[]]> = [
    ['no choice recorded: the rule decides', [['email', 'sms', 'print'], null], ['email', 'sms', 'print']],
    ['the patron chose SMS: SMS, then a letter where allowed', [['email', 'sms', 'print'], ['sms']], ['sms', 'print']],
    [
      "the rule's order is kept",
      [
        ['sms', 'email'],
        ['email', 'sms'],
      ],
      ['sms', 'email'],
    ],
    ['a transport the sidecar lacks is ignored', [['email', 'sms'], ['phone']], []],
    ['letters stay possible only where the rule allows them', [['email'], ['sms']], []],
  ];
  for (const [name, args, expected] of table) it(name, () => expect(allowedChannels(...args)).to.deep.equal(expected));

  it('"all channels" gives every usable one, and the reason when there is none', () => {
    const all = chooseAllChannels(['email', 'sms'], patron(), { defaultCountry: 'SE' });
    expect(all.map((c) => c.ok && c.channel)).to.deep.equal(['email', 'sms']);
    const none = chooseAllChannels(['email', 'sms'], patron({ email: null, mobile: 'x' }), { defaultCountry: 'SE' });
    expect(none).to.deep.equal([
      { ok: false, reason: 'email: no e-mail address; sms: mobile number is not valid; print: letters not allowed by the rule' },
    ]);
  });
});
