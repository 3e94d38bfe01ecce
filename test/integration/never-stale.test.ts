/**
 * Never stale, counted as the library counts: a renewal starts a loan over
 * (level 1 again, a new pre-due reminder), a later level waits until the one
 * before actually went out, no notice covers a loan not overdue at the
 * moment of the run (a 0-day delay, an hourly loan), and a patron who asked
 * for both reminders gets both.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { RunApproval, runNotices } from '../../sidecar/notices';
import { libraryTime } from '../../sidecar/kernel';
import { centralLibrary, engineWorld, stored, type EngineWorld } from './engine-support';

/** 07:00 in Stockholm on a day, as an instant. */
const morning = (day: string) => `${day}T06:00:00Z`;

describe(`never stale: renewals, level clocks, hourly loans (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let smtp: MailCapture;
  let patron: number;

  beforeEach(async () => {
    smtp = new MailCapture();
    await smtp.start();
    w = await engineWorld('stale', { now: morning('2026-11-01'), env: { KMC_SMTP_URL: smtp.url } });
    await w.kmc.startChannels();
    await centralLibrary(w.k);
    patron = await w.k.patron({ surname: 'Lind', firstname: 'Eva', email: 'eva@example.org', branchcode: 'CPL', categorycode: 'PT' });
    // Level 1 seven days after the due date, level 2 seven days after level 1 went out.
    for (const [level, delay] of [
      [1, 7],
      [2, 7],
    ])
      await w.db.knex('kmc_rules').where({ message_type: 'overdue', level, is_baseline: 1 }).update({ is_used: 1, delay_days: delay });
  });

  afterEach(async () => {
    await w.close();
    await smtp.stop();
  });

  const book = async (title: string) =>
    w.k.item({ biblionumber: await w.k.biblio({ title, author: 'Ek, Bo' }), homebranch: 'CPL', itype: 'BK' });
  const overdueOn = async (day: string, extra: { needsApproval?: boolean } = {}) => {
    w.clock.set(morning(day));
    return runNotices(w.kmc.notices, { type: 'overdue', date: day, startedBy: 'test', ...extra });
  };
  const predueOn = async (day: string, at = morning(day)) => {
    w.clock.set(at);
    return runNotices(w.kmc.notices, { type: 'predue', date: day, startedBy: 'test' });
  };
  /** Renews a loan as Koha does: a new due date on the same issues row, renewed now (the test's clock). */
  const renew = (issueId: number, dateDue: string) =>
    w.db
      .knex('issues')
      .where({ issue_id: issueId })
      .update({
        date_due: dateDue,
        renewals_count: w.db.knex.raw('COALESCE(renewals_count, 0) + 1'),
        lastreneweddate: libraryTime(w.clock.now(), 'Europe/Stockholm'),
      });

  it('a loan renewed after its level-1 notice gets level 1 again for the new due date, not level 2', async () => {
    const loan = await w.k.loan({ borrowernumber: patron, itemnumber: await book('Rivers'), dateDue: '2026-11-01', branchcode: 'CPL' });
    await overdueOn('2026-11-08');
    await w.kmc.worker.deliverOnce();
    // Renewed on 11-10 until 11-20; overdue again from 11-21, level 1 delay 7 -> 11-27.
    await renew(loan, '2026-11-20 23:59:00');
    expect((await overdueOn('2026-11-22')).created).to.equal(0);
    expect((await overdueOn('2026-11-27')).created).to.equal(1);
    const made = await stored(w.db.knex, { message_type: 'overdue' });
    expect(made.map((m) => m.level)).to.deep.equal([1, 1]);
    expect(made.map((m) => m.items[0].coverage_key)).to.deep.equal([
      `overdue:1:issue:${loan}:due:20261101T2359`,
      `overdue:1:issue:${loan}:due:20261120T2359`,
    ]);
  });

  it('a renewed loan gets a new pre-due reminder for its new due date', async () => {
    await w.k.messagePreference({ borrowernumber: patron, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 2 });
    const loan = await w.k.loan({ borrowernumber: patron, itemnumber: await book('Lakes'), dateDue: '2026-11-10', branchcode: 'CPL' });
    expect((await predueOn('2026-11-08')).created).to.equal(1);
    expect((await predueOn('2026-11-09')).created).to.equal(0);
    await renew(loan, '2026-11-24 23:59:00');
    expect((await predueOn('2026-11-22')).created).to.equal(1);
    const made = await stored(w.db.knex, { message_type: 'predue' });
    expect(made.map((m) => m.notice_date)).to.deep.equal(['2026-11-08', '2026-11-22']);
  });

  it('level 2 is not made while level 1 waits for approval; it counts from the day level 1 went out', async () => {
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Hills'), dateDue: '2026-11-01', branchcode: 'CPL' });
    const first = await overdueOn('2026-11-08', { needsApproval: true });
    expect(first.created).to.equal(1);
    // A week later level 1 still waits for staff: no level 2.
    expect((await overdueOn('2026-11-15')).created).to.equal(0);
    expect((await stored(w.db.knex)).map((m) => [m.level, m.status])).to.deep.equal([[1, 'proposed']]);
    // Approved and sent on 11-16: level 2 comes seven days after that, not seven days after the run.
    w.clock.set(morning('2026-11-16'));
    await new RunApproval(w.kmc.notices).approve(first.runId!, 1);
    await w.kmc.worker.deliverOnce();
    expect((await stored(w.db.knex)).map((m) => [m.level, m.status])).to.deep.equal([[1, 'sent']]);
    expect((await overdueOn('2026-11-22')).created).to.equal(0);
    expect((await overdueOn('2026-11-23')).created).to.equal(1);
    expect((await stored(w.db.knex)).map((m) => m.level)).to.deep.equal([1, 2]);
  });

  it('a 0-day delay and an hourly loan due later today make no overdue notice; once its time has passed, it does', async () => {
    await w.db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ delay_days: 0 });
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Tides'), dateDue: '2026-11-12 16:00:00', branchcode: 'CPL' });
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Winds'), dateDue: '2026-11-12', branchcode: 'CPL' });
    // 07:00 on the due day: neither loan is overdue yet.
    expect((await overdueOn('2026-11-12')).created).to.equal(0);
    // 17:00 the same day: the hourly loan is, the one due at the end of the day is not.
    w.clock.set('2026-11-12T16:00:01Z');
    const later = await runNotices(w.kmc.notices, { type: 'overdue', date: '2026-11-12', startedBy: 'test' });
    expect(later.created).to.equal(1);
    const [m] = await stored(w.db.knex, { message_type: 'overdue' });
    expect(m.body_text).to.contain('Tides').and.not.contain('Winds');
  });

  it('an hourly loan: the reminder carries its due time and none is made after it', async () => {
    await w.k.messagePreference({ borrowernumber: patron, message: 'Item_Due', transports: ['email'] });
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Sand'), dateDue: '2026-11-12 15:30:00', branchcode: 'CPL' });
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Stone'), dateDue: '2026-11-12 09:00:00', branchcode: 'CPL' });
    // 10:00 on the due day: Stone's time has passed, Sand's has not.
    expect((await predueOn('2026-11-12', '2026-11-12T09:00:00Z')).created).to.equal(1);
    const [m] = await stored(w.db.knex, { message_type: 'predue' });
    expect(m.body_text).to.contain('Sand').and.contain('15:30').and.not.contain('Stone');
  });

  it('a patron who asked for the advance notice and the due-day notice gets both', async () => {
    await w.k.messagePreference({ borrowernumber: patron, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 3 });
    await w.k.messagePreference({ borrowernumber: patron, message: 'Item_Due', transports: ['email'] });
    await w.k.loan({ borrowernumber: patron, itemnumber: await book('Fields'), dateDue: '2026-11-20', branchcode: 'CPL' });
    for (const day of ['2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20']) await predueOn(day);
    const made = await stored(w.db.knex, { message_type: 'predue' });
    expect(made.map((m) => m.notice_date)).to.deep.equal(['2026-11-17', '2026-11-20']);
  });
});
