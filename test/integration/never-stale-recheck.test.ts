/**
 * Never stale at the last moment: a notice that waited (quiet hours, staff
 * approval, a retry) is checked against Koha again when it is handed to a
 * channel and when staff approve it. Koha's tables are changed as Koha
 * changes them: a return moves the loan to old_issues, a pickup or a
 * cancellation moves the hold to old_reserves, a renewal moves the due date.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestSmsc } from '../support/smsc';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { RunApproval, runNotices } from '../../sidecar/notices';
import { centralLibrary, clearMessages, engineWorld, smsEnv, stored, type EngineWorld } from './engine-support';
import { addStaff, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

const RUN_DAY = '2026-11-24';
/** 09:00 in Stockholm on the run day. */
const MORNING = `${RUN_DAY}T08:00:00Z`;

describe(`never stale: checked against Koha before sending and at approval (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(90_000);
  let w: EngineWorld;
  let smtp: MailCapture;
  let smsc: TestSmsc;
  let n = 0;

  before(async () => {
    smtp = new MailCapture();
    await smtp.start();
    smsc = await TestSmsc.start();
    w = await engineWorld('recheck', { now: MORNING, env: { KMC_SMTP_URL: smtp.url, ...smsEnv(smsc.url) } });
    await centralLibrary(w.k);
    await w.kmc.startChannels();
  });

  after(async () => {
    await w.close();
    await smtp.stop();
    await smsc.close();
  });

  beforeEach(async () => {
    await clearMessages(w.db.knex);
    // Each test starts from a library with nothing on loan or on hold, so runs make only that test's notices.
    for (const table of ['issues', 'old_issues', 'reserves', 'old_reserves']) await w.db.knex(table).delete();
    await w.db.knex('kmc_branch_settings').delete();
    await w.db
      .knex('kmc_rules')
      .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
      .update({ is_used: 1, delay_days: 7, digest: 1, channels: 'email', send_all_channels: 0 });
    w.clock.set(MORNING);
    smtp.messages.length = 0;
    smtp.respond = undefined;
    smsc.reset();
  });

  const patron = (surname: string, contact: { email?: string; mobile?: string } = {}) =>
    w.k.patron({
      surname,
      firstname: 'Eva',
      email: contact.email ?? `${surname.toLowerCase()}@example.org`,
      ...(contact.mobile ? { mobile: contact.mobile } : {}),
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
    });
  /** A loan of a new book with its own title and barcode. */
  const lend = async (borrowernumber: number, title: string, dateDue: string) => {
    n += 1;
    const barcode = `REC${String(n).padStart(5, '0')}`;
    const itemnumber = await w.k.item({
      biblionumber: await w.k.biblio({ title, author: 'Ek, Bo' }),
      homebranch: 'CPL',
      itype: 'BK',
      barcode,
    });
    return { issueId: await w.k.loan({ borrowernumber, itemnumber, dateDue, branchcode: 'CPL' }), barcode, itemnumber };
  };
  const run = (type: string, extra: { needsApproval?: boolean } = {}) =>
    runNotices(w.kmc.notices, { type, date: RUN_DAY, startedBy: 'test', ...extra });
  /** Renews a loan as Koha does: a new due date on the same issues row. */
  const renew = (issueId: number, dateDue: string) =>
    w.db
      .knex('issues')
      .where({ issue_id: issueId })
      .update({
        date_due: dateDue,
        renewals_count: w.db.knex.raw('COALESCE(renewals_count, 0) + 1'),
        lastreneweddate: `${RUN_DAY} 10:00:00`,
      });
  const history = async (id: number) => (await w.kmc.store.events(id)).map((e) => [e.status, e.detail]);
  const mailTo = (address: string) => smtp.messages.filter((m) => m.envelopeTo.includes(address));

  it('a held SMS: an item returned during quiet hours is dropped from it; one with nothing left is cancelled', async () => {
    await w.db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '08:00:00' });
    await w.db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ channels: 'sms,email' });
    const two = await patron('Two', { mobile: '070-111 11 11' });
    const one = await patron('One', { mobile: '070-222 22 22' });
    const rivers = await lend(two, 'Rivers', '2026-11-10');
    await lend(two, 'Lakes', '2026-11-10');
    const hills = await lend(one, 'Hills', '2026-11-10');
    // 22:30 in Stockholm: both SMS are held for the quiet hours.
    w.clock.set(`${RUN_DAY}T21:30:00Z`);
    await run('overdue');
    const [twoMsg] = await stored(w.db.knex, { borrowernumber: two });
    const [oneMsg] = await stored(w.db.knex, { borrowernumber: one });
    expect([twoMsg.status, oneMsg.status]).to.deep.equal(['held', 'held']);
    expect(twoMsg.body_text).to.contain('2 items are overdue');

    // Returned during the night, as Koha checks in.
    await w.k.returnLoan(rivers.issueId, '2026-11-24 23:10:00');
    await w.k.returnLoan(hills.issueId, '2026-11-24 23:20:00');

    // 08:01: the quiet hours are over, the worker releases both and checks them before it sends.
    w.clock.set('2026-11-25T07:01:00Z');
    const stats = await w.kmc.worker.deliverOnce();
    expect(stats.cancelled).to.equal(1);
    expect(smsc.messages.map((m) => m.text)).to.have.length(1);
    // One item left: the SMS names its title, and not the returned one.
    expect(smsc.messages[0].text).to.contain('"Lakes" is overdue').and.not.contain('Rivers');

    const [twoAfter] = await stored(w.db.knex, { borrowernumber: two });
    expect(twoAfter.status).to.equal('sent');
    // What is kept is what went: the archive shows the text as sent, covering the loan still out.
    expect(twoAfter.body_text).to.equal(smsc.messages[0].text);
    expect(twoAfter.items.map((i) => i.issue_id))
      .to.have.length(1)
      .and.not.include(rivers.issueId);
    expect(await history(twoAfter.id)).to.deep.include([
      'sending',
      `items no longer current left out; returned since the notice was made: ${rivers.barcode}`,
    ]);

    const [oneAfter] = await stored(w.db.knex, { borrowernumber: one });
    expect(oneAfter.status).to.equal('cancelled');
    expect(oneAfter.status_reason).to.equal(`nothing left to send; returned since the notice was made: ${hills.barcode}`);
    expect((await history(oneAfter.id)).at(-1)).to.deep.equal(['cancelled', oneAfter.status_reason]);
  });

  it('at approval: a returned item is dropped from its notice, a notice with nothing left is cancelled, the rest is approved', async () => {
    const two = await patron('Approve');
    const one = await patron('Gone');
    const tides = await lend(two, 'Tides', '2026-11-10');
    await lend(two, 'Winds', '2026-11-10');
    const stone = await lend(one, 'Stone', '2026-11-10');
    const made = await run('overdue', { needsApproval: true });
    expect((await stored(w.db.knex)).map((m) => m.status)).to.deep.equal(['proposed', 'proposed']);

    await w.k.returnLoan(tides.issueId, RUN_DAY);
    await w.k.returnLoan(stone.issueId, RUN_DAY);
    const result = await new RunApproval(w.kmc.notices).approve(made.runId!, 1);
    expect(result).to.include({ queued: 1, cancelled: 1, itemsNoLongerCurrent: 1, cancelledNoLongerCurrent: 1 });

    const [twoMsg] = await stored(w.db.knex, { borrowernumber: two });
    expect(twoMsg.status).to.equal('pending');
    expect(twoMsg.body_text).to.contain('Winds').and.not.contain('Tides');
    expect(twoMsg.body_html).to.contain('Winds').and.not.contain('Tides');
    expect(twoMsg.items).to.have.length(1);
    expect(await history(twoMsg.id)).to.deep.include([
      'proposed',
      `items no longer current left out; returned since the notice was made: ${tides.barcode}`,
    ]);
    const [oneMsg] = await stored(w.db.knex, { borrowernumber: one });
    expect([oneMsg.status, oneMsg.status_reason]).to.deep.equal([
      'cancelled',
      `nothing left to send; returned since the notice was made: ${stone.barcode}`,
    ]);

    await w.kmc.worker.deliverOnce();
    expect(smtp.messages).to.have.length(1);
    expect(mailTo('approve@example.org')[0].parsed.text).to.contain('Winds').and.not.contain('Tides');
  });

  it('a retry: an item returned after a failed attempt is dropped before the next; a notice with nothing left is cancelled', async () => {
    const two = await patron('Retry');
    const one = await patron('Single');
    const sand = await lend(two, 'Sand', '2026-11-10');
    await lend(two, 'Clay', '2026-11-10');
    const field = await lend(one, 'Fields', '2026-11-10');
    await run('overdue');
    // The mail server is busy at the first attempt.
    smtp.respond = () => ({ action: 'reply', code: 451, message: 'Try again later' });
    const first = await w.kmc.worker.deliverOnce();
    expect(first.retried).to.equal(2);
    smtp.respond = undefined;

    await w.k.returnLoan(sand.issueId, RUN_DAY);
    await w.k.returnLoan(field.issueId, RUN_DAY);
    // An hour later every retry is due.
    w.clock.set(`${RUN_DAY}T09:00:00Z`);
    const second = await w.kmc.worker.deliverOnce();
    expect([second.sent, second.cancelled]).to.deep.equal([1, 1]);
    expect(smtp.messages).to.have.length(1);
    const mail = mailTo('retry@example.org')[0];
    expect(mail.parsed.text).to.contain('Clay').and.not.contain('Sand');

    const [twoMsg] = await stored(w.db.knex, { borrowernumber: two });
    expect(twoMsg.status).to.equal('sent');
    expect(mail.parsed.text?.trim()).to.equal(twoMsg.body_text.trim());
    const [oneMsg] = await stored(w.db.knex, { borrowernumber: one });
    expect([oneMsg.status, oneMsg.status_reason]).to.deep.equal([
      'cancelled',
      `nothing left to send; returned since the notice was made: ${field.barcode}`,
    ]);
  });

  it('a hold picked up or cancelled before its notice goes: cancelled; one still waiting goes', async () => {
    const holder = async (surname: string, title: string) => {
      const borrowernumber = await patron(surname);
      await w.k.messagePreference({ borrowernumber, message: 'Hold_Filled', transports: ['email'] });
      const biblionumber = await w.k.biblio({ title, author: 'Ek, Bo' });
      n += 1;
      const itemnumber = await w.k.item({ biblionumber, homebranch: 'CPL', itype: 'BK', barcode: `HLD${String(n).padStart(5, '0')}` });
      const reserveId = await w.k.hold({
        borrowernumber,
        biblionumber,
        itemnumber,
        branchcode: 'CPL',
        found: 'W',
        waitingdate: RUN_DAY,
        expirationdate: '2026-12-01',
      });
      return { borrowernumber, reserveId };
    };
    const picked = await holder('Picked', 'Harbours');
    const withdrawn = await holder('Withdrawn', 'Bridges');
    const waiting = await holder('Waiting', 'Towers');
    expect((await run('hold_waiting')).created).to.equal(3);

    // Picked up at the desk, and cancelled by the patron, before the worker's next pass.
    await w.k.endHold(picked.reserveId, { pickedUp: true });
    await w.k.endHold(withdrawn.reserveId, { cancelledOn: RUN_DAY });
    const stats = await w.kmc.worker.deliverOnce();
    expect([stats.sent, stats.cancelled]).to.deep.equal([1, 2]);
    expect(smtp.messages.map((m) => m.envelopeTo[0])).to.deep.equal(['waiting@example.org']);
    for (const who of [picked, withdrawn]) {
      const [m] = await stored(w.db.knex, { borrowernumber: who.borrowernumber });
      expect(m.status).to.equal('cancelled');
      expect(m.status_reason).to.match(/^nothing left to send; hold picked up or cancelled since the notice was made: HLD\d{5}$/);
    }
    expect((await stored(w.db.knex, { borrowernumber: waiting.borrowernumber }))[0].status).to.equal('sent');
  });

  it('a hold whose last pickup day has passed while its notice waited is cancelled', async () => {
    const borrowernumber = await patron('Late');
    await w.k.messagePreference({ borrowernumber, message: 'Hold_Filled', transports: ['email'] });
    const biblionumber = await w.k.biblio({ title: 'Meadows', author: 'Ek, Bo' });
    await w.k.hold({ borrowernumber, biblionumber, branchcode: 'CPL', found: 'W', waitingdate: '2026-11-20', expirationdate: RUN_DAY });
    await run('hold_waiting', { needsApproval: true });
    // Two days later: Koha's cancel-expired-holds job has not yet run; the hold is still in reserves but expired.
    w.clock.set('2026-11-26T08:00:00Z');
    await w.kmc.worker.deliverOnce();
    const [proposed] = await stored(w.db.knex, { borrowernumber });
    expect(proposed.status).to.equal('proposed');
    const result = await new RunApproval(w.kmc.notices).approve(Number((await w.db.knex('kmc_runs').max('id as id').first())!.id), 1);
    expect(result).to.include({ queued: 0, cancelledNoLongerCurrent: 1 });
    const [m] = await stored(w.db.knex, { borrowernumber });
    expect(m.status_reason).to.match(/^nothing left to send; hold expired since the notice was made: /);
  });

  it('a pre-due reminder for a loan renewed past its date is cancelled; an overdue notice for a loan renewed out of overdue too', async () => {
    const early = await patron('Early');
    await w.k.messagePreference({ borrowernumber: early, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 2 });
    const soon = await lend(early, 'Valleys', '2026-11-26');
    const late = await patron('Late2');
    const overdue = await lend(late, 'Forests', '2026-11-10');
    expect((await run('predue')).created).to.equal(1);
    expect((await run('overdue')).created).to.equal(1);

    await renew(soon.issueId, '2026-12-10 23:59:00');
    await renew(overdue.issueId, '2026-12-15 23:59:00');
    const stats = await w.kmc.worker.deliverOnce();
    expect([stats.sent, stats.cancelled]).to.deep.equal([0, 2]);
    expect(smtp.messages).to.have.length(0);
    const [predue] = await stored(w.db.knex, { borrowernumber: early });
    expect([predue.status, predue.status_reason]).to.deep.equal([
      'cancelled',
      `nothing left to send; renewed since the notice was made: ${soon.barcode}`,
    ]);
    const [od] = await stored(w.db.knex, { borrowernumber: late });
    expect([od.status, od.status_reason]).to.deep.equal([
      'cancelled',
      `nothing left to send; renewed since the notice was made, no longer overdue: ${overdue.barcode}`,
    ]);
  });

  it('a notice whose loans are all still out goes as it was made', async () => {
    const p = await patron('Steady');
    await lend(p, 'Cliffs', '2026-11-10');
    await lend(p, 'Dunes', '2026-11-12');
    await run('overdue');
    const [before] = await stored(w.db.knex, { borrowernumber: p });
    const stats = await w.kmc.worker.deliverOnce();
    expect([stats.sent, stats.cancelled]).to.deep.equal([1, undefined]);
    const [after] = await stored(w.db.knex, { borrowernumber: p });
    expect(after.body_text).to.equal(before.body_text);
    expect(after.items).to.have.length(2);
  });
});

describe(`never stale on the staff pages: approving a run checks it against Koha first (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(90_000);
  let sidecar: StaffSidecar;
  let staff: StaffSession;

  before(async () => {
    sidecar = await startStaffSidecar('recheck_web', {}, { at: '2026-11-24T05:00:00Z' });
    const staffNumber = await addStaff(sidecar.lib.builder, {
      userid: 'karin',
      surname: 'Lindqvist',
      firstname: 'Karin',
      modules: ['catalogue', 'tools'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    const now = Math.floor(sidecar.clock.now().getTime() / 1000);
    staff = await StaffSession.launch(sidecar.running.server, sidecar.running.services.settings.secret, staffNumber, now);
  });

  after(async () => {
    await sidecar.stop();
  });

  it('items returned since the run are left out, a notice with nothing left is cancelled, and the pages say so', async () => {
    const { db, lib } = sidecar;
    const routine = Number((await db.knex('kmc_routines').where({ message_type: 'overdue' }).first('id')).id);
    const started = await staff.post(`/routines/${routine}/run`, {});
    const runId = Number(/^\/runs\/(\d+)$/.exec(started.headers.location)![1]);
    for (let i = 0; i < 200 && (await staff.get(`/runs/${runId}/status`)).body.status === 'running'; i++)
      await new Promise((r) => setTimeout(r, 25));
    const messages = await db.knex('kmc_messages').where({ run_id: runId });
    const asa = messages.find((m) => m.borrowernumber === lib.patrons.asa);
    const soren = messages.find((m) => m.borrowernumber === lib.patrons.soren);
    expect([asa?.status, soren?.status]).to.deep.equal(['proposed', 'proposed']);

    // Checked in at the desk while the run waited for review.
    await lib.builder.returnLoan(lib.loans.asaMid, '2026-11-24');
    await lib.builder.returnLoan(lib.loans.sorenOld, '2026-11-24');
    const approved = await staff.post(`/runs/${runId}/review`, { view: 'patrons', page: '1', do: 'approve' });
    expect(approved.status).to.equal(303);
    expect(approved.headers.location).to.match(new RegExp(`^/runs/${runId}\\?done=run\\.approved_stale&n=\\d+$`));
    const page = await staff.get(approved.headers.location);
    expect(page.text).to.contain('Checked against Koha first: items returned, renewed or picked up since the run were left out');

    const asaAfter = await db.knex('kmc_messages').where({ id: asa.id }).first();
    expect(asaAfter.status).to.equal('pending');
    expect(asaAfter.body_text).to.contain('Röda rummet').and.not.contain('Gösta Berlings saga');
    const sorenAfter = await db.knex('kmc_messages').where({ id: soren.id }).first();
    expect(sorenAfter.status).to.equal('cancelled');
    expect(sorenAfter.status_reason).to.match(/^nothing left to send; returned since the notice was made: /);
    const shown = await staff.get(`/archive/${soren.id}`);
    expect(shown.status).to.equal(200);
    expect(shown.text).to.contain('nothing left to send; returned since the notice was made');
  });
});
