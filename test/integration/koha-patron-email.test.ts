/**
 * Which of a patron's addresses a notice goes to, as Koha's
 * `notice_email_address` decides from its preferences: `EmailFieldPrimary`
 * naming one column uses that column only; `OFF` the first of email,
 * emailpro, B_email; `MULTI` the columns in `EmailFieldSelection`.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { runNotices } from '../../sidecar/notices';
import { engineWorld, stored, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';

describe(`the patron's notice address by Koha's EmailFieldPrimary (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let both: number;
  let homeOnly: number;

  beforeEach(async () => {
    w = await engineWorld('noticeemail', { now: `${RUN_DAY}T07:00:00Z` });
    const { k, db } = w;
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket', email: 'central@bibliotek.example.org' });
    await k.category({ code: 'PT', description: 'Vuxen' });
    await k.itemtype({ code: 'BK', description: 'Bok' });
    const lend = async (p: number) => {
      const record = await k.biblio({ title: 'Röda rummet', author: 'Strindberg, August', itemtype: 'BK' });
      const item = await k.item({ biblionumber: record, homebranch: 'CPL', itype: 'BK' });
      await k.loan({ borrowernumber: p, itemnumber: item, dateDue: '2026-11-10', branchcode: 'CPL' });
    };
    both = await k.patron({
      surname: 'Falk',
      firstname: 'Arvid',
      email: 'arvid@home.example.org',
      emailpro: 'arvid.falk@work.example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
    });
    homeOnly = await k.patron({
      surname: 'Ek',
      firstname: 'Sellén',
      email: 'sellen@home.example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
    });
    await lend(both);
    await lend(homeOnly);
    await db
      .knex('kmc_rules')
      .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
      .update({ is_used: 1, delay_days: 7, channels: 'email,print' });
  });

  afterEach(async () => {
    await w.close();
  });

  const addresses = async () => {
    await runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    const all = await stored(w.db.knex);
    const of = (b: number) => {
      const m = all.find((x) => x.borrowernumber === b)!;
      return `${m.channel}:${m.channel === 'email' ? m.to_address : ''}`;
    };
    return { both: of(both), homeOnly: of(homeOnly) };
  };

  it('emailpro: the work address only; a patron without one gets a letter, as Koha sends none by e-mail', async () => {
    await w.k.systemPreference('EmailFieldPrimary', 'emailpro');
    expect(await addresses()).to.deep.equal({ both: 'email:arvid.falk@work.example.org', homeOnly: 'print:' });
  });

  it('OFF: the first address of email, emailpro, B_email', async () => {
    await w.k.systemPreference('EmailFieldPrimary', 'OFF');
    expect(await addresses()).to.deep.equal({ both: 'email:arvid@home.example.org', homeOnly: 'email:sellen@home.example.org' });
  });

  it('MULTI: the columns EmailFieldSelection lists, in its order', async () => {
    await w.k.systemPreference('EmailFieldPrimary', 'MULTI');
    await w.k.systemPreference('EmailFieldSelection', 'emailpro,email');
    expect(await addresses()).to.deep.equal({ both: 'email:arvid.falk@work.example.org', homeOnly: 'email:sellen@home.example.org' });
  });
});
