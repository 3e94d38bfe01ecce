import { expect } from 'chai';
import { parseChannels, resolveRule, type Rule } from '../../sidecar/rules';

let nextId = 1;
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

describe('rule resolution', () => {
  const baseline = rule({ is_baseline: true });
  const branch = rule({ branchcode: 'CPL', delay_days: 10 });
  const category = rule({ categorycode: 'KI', delay_days: 14 });
  const itemtype = rule({ itemtype: 'DVD', delay_days: 3 });
  const categoryAndItem = rule({ categorycode: 'KI', itemtype: 'DVD', delay_days: 5 });
  const christmas = rule({ branchcode: 'CPL', valid_from: '2026-12-20', valid_to: '2027-01-06', delay_days: 21 });
  const rules = [baseline, branch, category, itemtype, categoryAndItem, christmas];

  const cases: Array<[string, { branchcode: string | null; categorycode: string | null; itemtype: string | null; date: string }, Rule]> = [
    ['nothing specific: the baseline', { branchcode: 'HAF', categorycode: 'PT', itemtype: 'BK', date: '2026-11-24' }, baseline],
    ['branch outranks category', { branchcode: 'CPL', categorycode: 'KI', itemtype: 'BK', date: '2026-11-24' }, branch],
    ['category outranks item type', { branchcode: 'HAF', categorycode: 'KI', itemtype: 'BK', date: '2026-11-24' }, category],
    [
      'category + item type outranks category alone',
      { branchcode: 'HAF', categorycode: 'KI', itemtype: 'DVD', date: '2026-11-24' },
      categoryAndItem,
    ],
    ['branch outranks category + item type', { branchcode: 'CPL', categorycode: 'KI', itemtype: 'DVD', date: '2026-11-24' }, branch],
    ['item type alone', { branchcode: 'HAF', categorycode: 'PT', itemtype: 'DVD', date: '2026-11-24' }, itemtype],
    [
      'inside a validity window the newer branch rule wins',
      { branchcode: 'CPL', categorycode: 'PT', itemtype: 'BK', date: '2026-12-24' },
      christmas,
    ],
    ['after the window it no longer applies', { branchcode: 'CPL', categorycode: 'PT', itemtype: 'BK', date: '2027-01-07' }, branch],
    ['on the last valid day it applies', { branchcode: 'CPL', categorycode: 'PT', itemtype: 'BK', date: '2027-01-06' }, christmas],
  ];
  for (const [name, subject, expected] of cases) {
    it(name, () => expect(resolveRule(rules, subject)?.id).to.equal(expected.id));
  }

  it('gives null with no rule at all', () => {
    expect(resolveRule([], { branchcode: 'CPL', categorycode: 'PT', itemtype: 'BK', date: '2026-11-24' })).to.equal(null);
  });

  it('reads channel lists and refuses unknown channels', () => {
    expect(parseChannels('sms, email,sms,print')).to.deep.equal(['sms', 'email', 'print']);
    expect(() => parseChannels('email,fax')).to.throw(/unknown channel "fax"/);
  });
});
