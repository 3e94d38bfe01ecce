/**
 * Bad data in one Koha record never stops a run: a title of a megabyte, a
 * surname of tens of kilobytes, impossible dates (zero, before 1900, 30
 * February) and an amount no bill can hold. Long values are cut with a
 * marker; a record that still cannot be used is skipped with its reason and
 * ids on the run; every other patron gets their notice.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { kohaSchemaKind } from '../support/koha';
import { centralLibrary, clearMessages, engineWorld, stored, type EngineWorld } from './engine-support';
import { runNotices, type RunResult } from '../../sidecar/notices';
import { RunStore } from '../../sidecar/runs';
import { TemplateStore } from '../../sidecar/rendering';

const RUN_DAY = '2026-11-24';

/** Writes a value into a Koha row the way a lax server mode lets it in (Koha's tables take it). */
async function laxUpdate(
  knex: Knex,
  table: string,
  where: Record<string, number>,
  values: Record<string, string>,
  mode = '',
): Promise<void> {
  await knex.transaction(async (trx) => {
    const [rows] = await trx.raw<[Array<{ mode: string }>]>('SELECT @@SESSION.sql_mode AS mode');
    await trx.raw('SET SESSION sql_mode = ?', [mode]);
    try {
      await trx(table).where(where).update(values);
    } finally {
      await trx.raw('SET SESSION sql_mode = ?', [rows[0].mode]);
    }
  });
}

describe(`bad data in Koha never stops a run (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  const run = (type: string) => runNotices(w.kmc.notices, { type, date: RUN_DAY, startedBy: 'test' });

  /** A patron with an e-mail address and one loan of a new record. */
  async function patronWithLoan(
    name: string,
    opts: { title?: string; author?: string; surname?: string; dateDue?: string; itype?: string; price?: number } = {},
  ) {
    const borrowernumber = await w.k.patron({
      surname: opts.surname ?? name,
      firstname: 'Test',
      email: `${name.toLowerCase()}@example.org`,
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    const biblionumber = await w.k.biblio({ title: opts.title ?? `A book for ${name}`, author: opts.author ?? 'Author, Some' });
    const itemnumber = await w.k.item({ biblionumber, homebranch: 'CPL', itype: opts.itype ?? 'BK', replacementprice: opts.price ?? null });
    const issueId = await w.k.loan({ borrowernumber, itemnumber, dateDue: opts.dateDue ?? '2026-11-10', branchcode: 'CPL' });
    return { borrowernumber, issueId };
  }

  const messagesOf = async (borrowernumber: number) => stored(w.db.knex, { borrowernumber });
  const skippedOf = async (result: RunResult) => (await new RunStore(w.db.knex).get(result.runId!))!;

  before(async () => {
    w = await engineWorld('baddata', { now: `${RUN_DAY}T09:00:00Z` });
    await centralLibrary(w.k);
    await w.k.systemPreference('dateformat', 'iso');
  });
  after(async () => {
    await w.close();
  });
  // Each case starts from no loans, holds or messages: one case's bad record is not the next one's.
  beforeEach(async () => {
    await clearMessages(w.db.knex);
    await w.db.knex('issues').delete();
    await w.db.knex('reserves').delete();
  });

  it('cuts a 1.1 MB title, a long author and a long surname with a marker, and every patron gets their notice', async () => {
    const title = 'Den långa titeln '.repeat(70_000); // about 1.2 million bytes in UTF-8
    expect(Buffer.byteLength(title)).to.be.greaterThan(1_100_000);
    const longTitle = await patronWithLoan('Lang', { title, author: 'Författare, Många '.repeat(5000) });
    const longName = await patronWithLoan('Namn', { surname: 'Efternamn'.repeat(8000) });
    const plain = await patronWithLoan('Vanlig');

    const result = await run('overdue');
    expect(result.created).to.equal(3);
    expect((await w.db.knex('kmc_runs').where({ id: result.runId }).first<{ status: string }>('status')).status).to.equal('finished');

    const [m] = await messagesOf(longTitle.borrowernumber);
    const item = await w.db
      .knex('kmc_message_items')
      .where({ message_id: m.id })
      .first<{ title: string; author: string }>('title', 'author');
    expect(item.title.startsWith('Den långa titeln Den långa titeln')).to.equal(true);
    expect(item.title.endsWith('…')).to.equal(true);
    expect(Array.from(item.title).length).to.be.at.most(501);
    expect(item.author.endsWith('…')).to.equal(true);
    expect(m.body_text.length).to.be.below(20_000);
    expect(m.body_text).to.contain('Den långa titeln');
    expect(m.render_data!.length).to.be.below(20_000);

    const [n] = await messagesOf(longName.borrowernumber);
    expect(n.body_text).to.contain('EfternamnEfternamn');
    expect(n.body_text).to.contain('…');
    expect(n.body_text.length).to.be.below(20_000);
    expect(await messagesOf(plain.borrowernumber)).to.have.length(1);
  });

  it('skips loans with impossible due dates (zero, before 1900, 30 February) with the reason on the run; the others get notices', async () => {
    const zero = await patronWithLoan('Noll');
    const old = await patronWithLoan('Gammal');
    const feb = await patronWithLoan('Februari');
    const fine = await patronWithLoan('Riktig');
    await laxUpdate(w.db.knex, 'issues', { issue_id: zero.issueId }, { date_due: '0000-00-00 00:00:00' });
    await laxUpdate(w.db.knex, 'issues', { issue_id: old.issueId }, { date_due: '1899-12-31 23:59:00' });
    await laxUpdate(w.db.knex, 'issues', { issue_id: feb.issueId }, { date_due: '2026-02-30 23:59:00' }, 'ALLOW_INVALID_DATES');
    expect(
      (await w.db.knex('issues').where({ issue_id: zero.issueId }).first<{ date_due: string }>('date_due')).date_due,
      'Koha kept the zero date',
    ).to.match(/^0000-00-00/);

    const result = await run('overdue');
    for (const p of [zero, old, feb]) expect(await messagesOf(p.borrowernumber), `patron ${p.borrowernumber}`).to.have.length(0);
    expect(await messagesOf(fine.borrowernumber)).to.have.length(1);
    const everyBody = (await stored(w.db.knex)).map((m) => m.body_text).join('\n');
    expect(everyBody).to.not.contain('0000-00-00');
    expect(everyBody).to.not.contain('1899');

    expect(result.skippedBy.impossible_date).to.equal(3);
    const summary = await skippedOf(result);
    expect(summary.status).to.equal('finished');
    expect(summary.skippedRecords.map((r) => [r.reason, r.borrowernumber, r.issueId, r.field])).to.have.deep.members([
      ['impossible_date', zero.borrowernumber, zero.issueId, 'date_due'],
      ['impossible_date', old.borrowernumber, old.issueId, 'date_due'],
      ['impossible_date', feb.borrowernumber, feb.issueId, 'date_due'],
    ]);
  });

  it('skips a waiting hold with an impossible waiting day; the other hold gets its notice', async () => {
    const pickup = async (name: string) => {
      const borrowernumber = await w.k.patron({
        surname: name,
        firstname: 'Test',
        email: `${name.toLowerCase()}@example.org`,
        branchcode: 'CPL',
        categorycode: 'PT',
      });
      const biblionumber = await w.k.biblio({ title: `Held for ${name}`, author: 'Author, Some' });
      const itemnumber = await w.k.item({ biblionumber, homebranch: 'CPL', itype: 'BK' });
      const reserveId = await w.k.hold({
        borrowernumber,
        biblionumber,
        itemnumber,
        branchcode: 'CPL',
        found: 'W',
        waitingdate: '2026-11-23',
        expirationdate: '2026-11-30',
      });
      return { borrowernumber, reserveId };
    };
    const zero = await pickup('Hyllnoll');
    const fine = await pickup('Hyllrätt');
    await laxUpdate(w.db.knex, 'reserves', { reserve_id: zero.reserveId }, { waitingdate: '0000-00-00' });

    const result = await run('hold_waiting');
    expect(await messagesOf(zero.borrowernumber)).to.have.length(0);
    expect(await messagesOf(fine.borrowernumber)).to.have.length(1);
    const summary = await skippedOf(result);
    expect(summary.skippedRecords.map((r) => [r.reason, r.borrowernumber, r.reserveId, r.field])).to.deep.equal([
      ['impossible_date', zero.borrowernumber, zero.reserveId, 'waitingdate'],
    ]);
  });

  it('skips a patron whose data makes an edited template exceed its render budget; the run and every other patron go on', async () => {
    const templates = new TemplateStore(w.db.knex);
    // Whatever language the patrons' notices are in.
    const keys = ['en', 'sv', 'de', 'da'].map((lang) => ({ message_type: 'overdue', channel: 'email', lang, branchcode: '' }) as const);
    // Grows each "a" of the surname ten thousand times: harmless for most names, over the budget for a long one with many.
    const growing = `{{ patron.surname${'|replace("a", "aaaaaaaaaa")'.repeat(4)} }}`;
    for (const key of keys)
      await templates.save(key, { subject: 'Overdue', body_text: `Dear ${growing}`, body_html: null, updated_by: null });
    try {
      const long = await patronWithLoan('Saga', { surname: 'Saga'.repeat(100) });
      const plain = await patronWithLoan('Lind');
      const result = await run('overdue');
      expect(await messagesOf(long.borrowernumber)).to.have.length(0);
      const [m] = await messagesOf(plain.borrowernumber);
      expect(m.body_text).to.contain('Dear Lind');
      const summary = await skippedOf(result);
      expect(summary.status).to.equal('finished');
      const skipped = summary.skippedRecords.find((r) => r.borrowernumber === long.borrowernumber);
      expect(skipped?.reason).to.equal('cannot_make_notice');
      expect(skipped?.detail).to.match(/render budget/);
    } finally {
      for (const key of keys) await templates.remove(key);
    }
  });

  it('skips a bill the database cannot hold (an absurd replacement cost) with the reason on the run; the others are billed', async () => {
    // Bills counted from the due date: no overdue level is used.
    await w.db.knex('kmc_rules').where({ message_type: 'overdue' }).update({ is_used: 0 });
    await w.k.itemtype({ code: 'XL', description: 'Dyr', defaultReplaceCost: 999_999_999_999 });
    const absurd = await patronWithLoan('Dyr', { itype: 'XL' });
    const billed = await patronWithLoan('Betalar', { price: 300 });

    const result = await run('replacement_bill');
    expect(await messagesOf(absurd.borrowernumber)).to.have.length(0);
    const [bill] = await messagesOf(billed.borrowernumber);
    expect(Number(bill.items[0].fee)).to.equal(300);
    const summary = await skippedOf(result);
    expect(summary.status).to.equal('finished');
    const refused = summary.skippedRecords.filter((r) => r.reason === 'cannot_store');
    expect(refused.map((r) => [r.borrowernumber, r.issueId])).to.deep.equal([[absurd.borrowernumber, absurd.issueId]]);
    expect(refused[0].detail).to.match(/^ER_/);
  });
});
