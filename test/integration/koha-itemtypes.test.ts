/**
 * Koha's `item-level_itypes`: with it off, Koha goes by the record's item
 * type (`biblioitems.itemtype`), not the item's (`items.itype`). The rule
 * for the record's item type must win, and the replacement price must be
 * that type's default; with it on, the item's own type decides.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { runNotices } from '../../sidecar/notices';
import { engineWorld, stored, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';

describe(`item-level_itypes as Koha reads it (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let patron: number;
  let dvdRule: number;

  beforeEach(async () => {
    w = await engineWorld('itypes', { now: `${RUN_DAY}T07:00:00Z` });
    const { k, db } = w;
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket', email: 'central@bibliotek.example.org' });
    await k.category({ code: 'PT', description: 'Vuxen' });
    // The item says book; its record says film. Each type has its own default replacement cost.
    await k.itemtype({ code: 'BK', description: 'Bok', defaultReplaceCost: 100 });
    await k.itemtype({ code: 'DVD', description: 'Film', defaultReplaceCost: 400 });
    patron = await k.patron({
      surname: 'Lind',
      firstname: 'Eva',
      email: 'eva@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
    });
    const record = await k.biblio({ title: 'Smultronstället', author: 'Bergman, Ingmar', itemtype: 'DVD' });
    const item = await k.item({ biblionumber: record, homebranch: 'CPL', itype: 'BK' });
    await k.loan({ borrowernumber: patron, itemnumber: item, dateDue: '2026-11-19', branchcode: 'CPL' });

    // Baseline level 1 after 7 days; films after 3 days, by letter only.
    await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ is_used: 1, delay_days: 7 });
    [dvdRule] = await db.knex('kmc_rules').insert({
      message_type: 'overdue',
      level: 1,
      itemtype: 'DVD',
      is_used: 1,
      delay_days: 3,
      channels: 'print',
      digest: 1,
      is_baseline: 0,
    });
  });

  afterEach(async () => {
    await w.close();
  });

  const overdueRun = () => runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });

  it("off: the rule for the record's item type wins", async () => {
    await w.k.systemPreference('item-level_itypes', '0');
    const result = await overdueRun();
    expect(result.created).to.equal(1);
    const [m] = await stored(w.db.knex);
    expect(m.rule_id).to.equal(dvdRule);
    expect(m.channel).to.equal('print');
  });

  it("on: the item's own type decides, and the film rule does not apply", async () => {
    await w.k.systemPreference('item-level_itypes', '1');
    const result = await overdueRun();
    expect(result.created).to.equal(0);
    expect(result.skippedBy).to.deep.include({ not_yet_due_for_notice: 1 });
  });

  it("off: the replacement bill charges the record's item type's default cost", async () => {
    await w.k.systemPreference('item-level_itypes', '0');
    // No overdue level in use: the bill counts from the due date.
    await w.db.knex('kmc_rules').where({ message_type: 'overdue' }).update({ is_used: 0 });
    await w.db
      .knex('kmc_rules')
      .where({ message_type: 'replacement_bill', is_baseline: 1 })
      .update({ is_used: 1, delay_days: 0, channels: 'print' });
    const result = await runNotices(w.kmc.notices, { type: 'replacement_bill', date: RUN_DAY, startedBy: 'test' });
    expect(result.created).to.equal(1);
    const [bill] = await stored(w.db.knex);
    expect(bill.fee).to.equal('400.00');
    expect(bill.items.map((i) => i.fee)).to.deep.equal(['400.00']);
  });
});
