/**
 * Koha's calendar in overdue delays. With `OverdueNoticeCalendar` on (or its
 * newer name `OverdueTriggersCalendar`), a level's delay counts the days the
 * branch is open, as Koha's overdue job counts them, from Koha's own
 * calendar: a library closed on Sundays and on a special holiday, with one
 * Sunday opened by an exception. On a closed day no overdue notice of the
 * branch is made; the next open day they come.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { addDays } from '../../sidecar/kernel';
import { runNotices, type RunResult } from '../../sidecar/notices';
import { engineWorld, stored, type EngineWorld } from './engine-support';

const FIRST_DAY = '2026-10-28';
const LAST_DAY = '2026-11-20';

describe(`overdue delays in open days by Koha's calendar (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(180_000);
  let w: EngineWorld;
  let who: Record<string, number> = {};

  const loanDueOn = async (name: string, due: string) => {
    const { k } = w;
    who[name] = await k.patron({
      surname: name,
      firstname: name,
      email: `${name}@example.org`,
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
    });
    const record = await k.biblio({ title: `A book for ${name}`, author: 'Writer, A', itemtype: 'BK' });
    const item = await k.item({ biblionumber: record, homebranch: 'CPL', itype: 'BK' });
    await k.loan({ borrowernumber: who[name], itemnumber: item, dateDue: due, branchcode: 'CPL' });
  };

  /** Runs the overdue notices on every day from..to, as the daily routine would; the results by day. */
  const everyDay = async (from: string, to: string) => {
    const results = new Map<string, RunResult>();
    for (let day = from; day <= to; day = addDays(day, 1)) {
      w.clock.set(`${day}T06:00:00Z`);
      results.set(day, await runNotices(w.kmc.notices, { type: 'overdue', date: day, startedBy: 'test' }));
    }
    return results;
  };
  const levelOneDays = async () => {
    const out: Record<string, string | null> = {};
    const all = await stored(w.db.knex, { message_type: 'overdue', level: 1 });
    for (const [name, borrowernumber] of Object.entries(who))
      out[name] = all.find((m) => m.borrowernumber === borrowernumber)?.notice_date ?? null;
    return out;
  };

  beforeEach(async () => {
    who = {};
    w = await engineWorld('opendays', { now: `${FIRST_DAY}T06:00:00Z` });
    const { k, db } = w;
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket', email: 'central@bibliotek.example.org' });
    await k.category({ code: 'PT', description: 'Vuxen' });
    await k.itemtype({ code: 'BK', description: 'Bok' });
    // Closed every Sunday and on Thursday 5 November; open on Sunday 15 November all the same (a book fair).
    await k.holiday({ branchcode: 'CPL', weekday: 0, title: 'Söndag' });
    await k.holiday({ branchcode: 'CPL', date: '2026-11-05', title: 'Personaldag' });
    await k.holiday({ branchcode: 'CPL', date: '2026-11-15', exception: true, title: 'Bokmässa' });
    await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ is_used: 1, delay_days: 7 });
  });

  afterEach(async () => {
    await w.close();
  });

  it('counts 7 open days from the due date, makes nothing on closed days, and resumes the next open day', async () => {
    await w.k.systemPreference('OverdueNoticeCalendar', '1');
    await loanDueOn('monday', '2026-11-02'); // without the 5th and Sunday the 8th, the count reaches 7 on Wed 11 Nov, not Mon 9 Nov
    await loanDueOn('holiday', '2026-10-28'); // the count reaches 7 on the closed Thursday 5 Nov
    await loanDueOn('sunday', '2026-10-30'); // the count reaches 7 on Sunday 8 Nov
    await loanDueOn('fair', '2026-11-09'); // the open Sunday 15 Nov counts
    const results = await everyDay(FIRST_DAY, LAST_DAY);

    expect(await levelOneDays()).to.deep.equal({
      monday: '2026-11-11',
      holiday: '2026-11-06',
      sunday: '2026-11-09',
      fair: '2026-11-16',
    });
    // Closed days: nothing made, every overdue loan of the branch set aside as closed.
    for (const closed of ['2026-11-05', '2026-11-08']) {
      const r = results.get(closed)!;
      expect(r.created, closed).to.equal(0);
      expect(r.skippedBy, closed).to.have.property('branch_closed').above(0);
    }
    // The Sunday the calendar opens is an open day.
    expect(results.get('2026-11-15')!.skippedBy).not.to.have.property('branch_closed');
  });

  it('reads the newer name OverdueTriggersCalendar too; with neither on, every day counts', async () => {
    await loanDueOn('monday', '2026-11-02');
    const tryOn = (date: string) => runNotices(w.kmc.notices, { type: 'overdue', date, startedBy: 'test', dryRun: true });
    expect((await tryOn('2026-11-09')).created, 'calendar off: 7 days after the due date').to.equal(1);
    await w.k.systemPreference('OverdueTriggersCalendar', '1');
    expect((await tryOn('2026-11-09')).created, 'calendar on').to.equal(0);
    const results = await everyDay('2026-11-09', '2026-11-11');
    expect(results.get('2026-11-09')!.created).to.equal(0);
    expect(await levelOneDays(), 'calendar on').to.deep.equal({ monday: '2026-11-11' });
  });
});
