/**
 * Routines on the staff pages, against a real MariaDB: run now, look through
 * the patrons and the items before anything is sent, untick a patron and an
 * item, send one message as a letter, approve; then the outputs (letters as
 * one PDF, every message as a letter, the pick list of held titles, the SMS
 * error report) and a scheduled run that waits for approval.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Response as AgentResponse } from 'superagent';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import type { TestClock } from '../support/sidecar';
import type { Running } from '../../sidecar/serve';
import { runNotices } from '../../sidecar/notices';
import { fromDbTime } from '../../sidecar/db';
import { addStaff, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';
import { pdfPages } from '../support/pdf';

/** A PDF download as bytes. */
function asBuffer(r: AgentResponse, cb: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  r.on('end', () => {
    cb(null, Buffer.concat(chunks));
  });
}

describe(`routines on the staff pages: run, review, approve, outputs (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let clock: TestClock;
  let staff: StaffSession;
  let staffNumber: number;
  let overdueRoutine: number;

  const now = () => Math.floor(clock.now().getTime() / 1000);

  before(async () => {
    sidecar = await startStaffSidecar('web_routines', {}, { at: '2026-11-24T05:00:00Z' });
    ({ db, lib, running, clock } = sidecar);
    // A patron whose name is markup: every page must show it as text.
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.jurgen }).update({ firstname: '<script>alert(1)</script>' });
    staffNumber = await addStaff(lib.builder, {
      userid: 'karin',
      surname: 'Lindqvist',
      firstname: 'Karin',
      modules: ['catalogue', 'tools'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(running.server, running.services.settings.secret, staffNumber, now());
    overdueRoutine = Number((await db.knex('kmc_routines').where({ message_type: 'overdue' }).first('id')).id);
  });

  after(async () => {
    await sidecar.stop();
  });

  /** Starts a run of a routine from its page and waits, as the page does, until it is done. */
  async function runNow(routineId: number): Promise<number> {
    const started = await staff.post(`/routines/${routineId}/run`, {});
    expect(started.status, started.text).to.equal(303);
    const runId = Number(/^\/runs\/(\d+)$/.exec(started.headers.location)![1]);
    for (let i = 0; i < 200; i++) {
      const status = await staff.get(`/runs/${runId}/status`);
      expect(status.status).to.equal(200);
      if (status.body.status !== 'running') {
        expect(status.body.status).to.equal('finished');
        return runId;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the run did not finish');
  }

  const messagesOf = (runId: number) => db.knex('kmc_messages').where({ run_id: runId }).orderBy('id');

  it('lists the routines, filtered by type and by branch', async () => {
    const all = await staff.get('/routines');
    expect(all.status).to.equal(200);
    expect(all.text).to.contain('Overdue notices').and.to.contain('Hold pickup notices');
    // Schedules in words (cronstrue), the cron form beside them for those who want it.
    expect(all.text).to.contain('At 06:30 <small><code>30 6 * * *</code></small>');
    expect(all.text).to.contain('Every hour, between 08:00 and 20:00');
    const overdue = await staff.get('/routines?type=overdue');
    expect(overdue.text).to.contain('Overdue notices').and.not.to.contain('Hold pickup notices');
    await db.knex('kmc_routines').insert({
      name: 'Overdue, harbour only',
      message_type: 'overdue',
      criteria: JSON.stringify({ branches: ['HAF'], categories: [], itemtypes: [] }),
      needs_approval: 1,
      enabled: 1,
    });
    const central = await staff.get('/routines?branch=CPL');
    expect(central.text).to.contain('Overdue notices').and.not.to.contain('Overdue, harbour only');
    const harbour = await staff.get('/routines?branch=HAF');
    expect(harbour.text).to.contain('Overdue, harbour only');
  });

  it('creates a routine from the form, refuses a bad schedule with the field named, and escapes its name', async () => {
    const bad = await staff.post('/routines/new', {
      name: 'Nightly <b>bills</b>',
      message_type: 'replacement_bill',
      schedule: '61 25 * *',
      enabled: '1',
    });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('The schedule needs five fields');
    expect(bad.text).to.contain('value="Nightly &lt;b&gt;bills&lt;/b&gt;"');
    const good = await staff.post('/routines/new', {
      name: 'Nightly <b>bills</b>',
      message_type: 'replacement_bill',
      schedule: '0 7 * * 1-5',
      enabled: '1',
      branches: ['CPL'],
    });
    expect(good.status).to.equal(303);
    const row = await db.knex('kmc_routines').where({ name: 'Nightly <b>bills</b>' }).first();
    expect(row).to.include({ message_type: 'replacement_bill', schedule: '0 7 * * 1-5', needs_approval: 0, enabled: 1 });
    expect(JSON.parse(row.criteria).branches).to.deep.equal(['CPL']);
    const page = await staff.get(good.headers.location);
    expect(page.text).to.contain('The routine was saved.');
    expect(page.text).not.to.contain('<b>bills</b>');
    const taken = await staff.post('/routines/new', { name: 'Nightly <b>bills</b>', message_type: 'overdue' });
    expect(taken.status).to.equal(409);
    expect(taken.text).to.contain('Another routine has this name already.');
  });

  it('run now: nothing is sent, the patrons and the items are shown first, in two views', async () => {
    const runId = await runNow(overdueRoutine);
    const messages = await messagesOf(runId);
    expect(messages.map((m) => m.status)).to.have.members(['proposed', 'proposed', 'proposed', 'proposed']);
    expect(messages.every((m) => m.routine_id === overdueRoutine)).to.equal(true);

    const patrons = await staff.get(`/runs/${runId}`);
    expect(patrons.status).to.equal(200);
    expect(patrons.text).to.contain('Nothing has been sent.');
    for (const m of messages) expect(patrons.text).to.contain(`name="keep" value="${m.id}"`);
    expect(patrons.text).to.contain('&lt;script&gt;alert(1)&lt;/script&gt; Müller');
    expect(patrons.text).not.to.contain('<script>alert(1)</script>');

    const items = await staff.get(`/runs/${runId}/items`);
    expect(items.status).to.equal(200);
    for (const title of ['Röda rummet', 'Gösta Berlings saga', 'Der Zauberberg', 'Kongens Fald', 'Utvandrarna'])
      expect(items.text).to.contain(title);
    expect(
      await db.knex('kmc_audit').where({ action: 'routine.run', borrowernumber: staffNumber }).count({ n: '*' }).first(),
    ).to.deep.equal({ n: 1 });
  });

  it('untick a patron and an item, send one message as a letter, approve: only then are messages queued', async () => {
    const runId = Number(
      (await db.knex('kmc_runs').where('job', 'like', `routine:${overdueRoutine}:manual:%`).orderBy('id', 'desc').first('id')).id,
    );
    const messages = await messagesOf(runId);
    const of = (borrower: number) => messages.find((m) => m.borrowernumber === borrower)!;
    const asa = of(lib.patrons.asa);
    const jurgen = of(lib.patrons.jurgen);
    const soren = of(lib.patrons.soren);
    const anna = of(lib.patrons.anna);
    expect(asa.channel).to.equal('email');

    // Items view: leave "Gösta Berlings saga" out of Åsa's message.
    const asaItems = await db.knex('kmc_message_items').where({ message_id: asa.id }).orderBy('id');
    const gosta = asaItems.find((i) => i.title === 'Gösta Berlings saga');
    const allItems = await db
      .knex('kmc_message_items')
      .whereIn(
        'message_id',
        messages.map((m) => m.id),
      )
      .pluck('id');
    const savedItems = await staff.post(`/runs/${runId}/review`, {
      view: 'items',
      page: '1',
      shown_item: allItems.map(String),
      keep_item: allItems.filter((id) => id !== gosta.id).map(String),
      do: 'save',
    });
    expect(savedItems.status).to.equal(303);
    expect(savedItems.headers.location).to.equal(`/runs/${runId}/items?page=1&done=run.saved`);
    expect(await db.knex('kmc_review_items').pluck('message_item_id')).to.deep.equal([gosta.id]);
    // Nothing changed yet in the message itself.
    expect((await db.knex('kmc_messages').where({ id: asa.id }).first()).status).to.equal('proposed');

    // Patrons view: untick Jürgen, send Åsa's as a letter, try Anna by e-mail (her address is not usable: not offered, so not taken), then approve.
    const approved = await staff.post(`/runs/${runId}/review`, {
      view: 'patrons',
      page: '1',
      shown: messages.map((m) => String(m.id)),
      keep: [asa.id, soren.id, anna.id].map(String),
      [`send_as_${asa.id}`]: 'print',
      [`send_as_${jurgen.id}`]: 'email',
      [`send_as_${soren.id}`]: 'print',
      [`send_as_${anna.id}`]: 'email',
      do: 'approve',
    });
    expect(approved.status).to.equal(303);
    expect(approved.headers.location).to.equal(`/runs/${runId}?done=run.approved&n=3`);

    const after = new Map((await messagesOf(runId)).map((m) => [m.id, m]));
    expect(after.get(jurgen.id)!.status).to.equal('cancelled');
    expect(after.get(soren.id)!.status).to.equal('pending');
    // E-mail cannot reach Anna (her address is not usable), so the page did not offer it and a posted one is not taken.
    expect(after.get(anna.id)).to.include({ status: 'pending', channel: 'print' });
    expect((await db.knex('kmc_review_messages').where({ message_id: anna.id }).first())?.send_as ?? null).to.equal(null);

    const asaAfter = after.get(asa.id)!;
    expect(asaAfter).to.include({ status: 'pending', channel: 'print', from_address: 'Centralbiblioteket' });
    expect(asaAfter.to_address).to.contain('Ängsvägen 3');
    expect(asaAfter.body_text).to.contain('Röda rummet').and.not.to.contain('Gösta Berlings saga');
    expect(await db.knex('kmc_message_items').where({ message_id: asa.id }).pluck('title')).to.deep.equal(['Röda rummet']);
    // The left-out loan is free again for a later notice; the other stays covered.
    expect(await db.knex('kmc_message_items').where({ issue_id: lib.loans.asaMid }).count({ n: '*' }).first()).to.deep.equal({ n: 0 });

    const events = await db.knex('kmc_message_events').where({ message_id: asa.id }).orderBy('id').pluck('detail');
    expect(events.join(' | ')).to.contain('sent as print instead of email').and.to.contain('approved by staff');
    const jurgenEvents = await db.knex('kmc_message_events').where({ message_id: jurgen.id, status: 'cancelled' }).first();
    expect(jurgenEvents).to.include({ actor: `staff:${staffNumber}`, detail: 'left out by staff before approval' });

    const approval = await db.knex('kmc_run_approvals').where({ run_id: runId }).first();
    expect(approval).to.include({ approved_by: staffNumber, queued: 3, cancelled: 1, items_removed: 1 });
    const page = await staff.get(approved.headers.location);
    expect(page.text).to.contain('The run was approved: 3 message(s) queued.');
    expect(page.text).to.contain('Approved by Karin Lindqvist');
    expect(page.text).not.to.contain('name="keep"');

    // A second approval (another tab, another staff member) changes nothing.
    const again = await staff.post(`/runs/${runId}/review`, { view: 'patrons', page: '1', do: 'approve' });
    expect(again.headers.location).to.equal(`/runs/${runId}?done=run.already_approved`);
    expect(await db.knex('kmc_audit').where({ action: 'run.approve' }).count({ n: '*' }).first()).to.deep.equal({ n: 1 });

    // The archive shows them, and the queued letters go out.
    const archive = await staff.get(`/archive?q=${encodeURIComponent('Öberg')}`);
    expect(archive.text, archive.text.slice(archive.text.indexOf('<main'))).to.contain(`href="/archive/${asa.id}"`);
    const delivered = await running.services.worker.deliverOnce();
    expect(delivered.sent).to.equal(3);
  });

  it("prints the run's letters as one PDF, one letter a page, with the branch address block", async () => {
    const runId = Number(
      (await db.knex('kmc_runs').where('job', 'like', `routine:${overdueRoutine}:manual:%`).orderBy('id', 'desc').first('id')).id,
    );
    const res = await staff.get(`/runs/${runId}/letters.pdf`).buffer(true).parse(asBuffer);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    const pages = await pdfPages(res.body as Buffer);
    expect(pages).to.have.length(3);
    expect(pages[0]).to.contain('Centralbiblioteket').and.contain('Storgatan 1').and.contain('Öberg').and.contain('Ängsvägen 3');
    expect(pages.join('\n')).to.contain('Søren');

    const all = await staff.get(`/runs/${runId}/all-messages.pdf`).buffer(true).parse(asBuffer);
    // Every message that was not cancelled: Åsa, Søren and Anna (Jürgen was left out).
    expect(await pdfPages(all.body as Buffer)).to.have.length(3);
  });

  it('a letter waits to be printed until staff print it and confirm; then it is printed, with who and when', async () => {
    const runId = Number(
      (await db.knex('kmc_runs').where('job', 'like', `routine:${overdueRoutine}:manual:%`).orderBy('id', 'desc').first('id')).id,
    );
    const letters = await db.knex('kmc_messages').where({ run_id: runId, channel: 'print' }).orderBy('id');
    expect(letters).to.have.length(3);
    // Written for staff to print is not sent.
    for (const l of letters) expect(l.status).to.equal('to_print');

    // The print folder holds what staff would print: one PDF of the run's letters at the branch, named by the library's day.
    const file = path.join(running.services.settings.printDir, letters[0].provider_id);
    expect(letters[0].provider_id).to.equal(path.join('2026-11-24', `letters-CPL-run-${runId}.pdf`));
    const folderPdf = await pdfPages(readFileSync(file));
    expect(folderPdf).to.have.length(3);
    expect(folderPdf.join('\n')).to.contain('Öberg').and.contain('Søren');

    // The run's page offers "Print letters" and then "Confirm printed", in the staff member's language.
    const page = await staff.get(`/runs/${runId}`);
    expect(page.text).to.contain('3 letter(s) wait to be printed.');
    expect(page.text).to.contain(`href="/runs/${runId}/letters.pdf?waiting=1"`);
    expect(page.text).to.contain('Did all these letters print correctly?');
    expect(page.text).to.contain(`value="${letters.map((l) => l.id).join(',')}"`);
    const waiting = await staff.get(`/runs/${runId}/letters.pdf?waiting=1`).buffer(true).parse(asBuffer);
    expect(await pdfPages(waiting.body as Buffer)).to.have.length(3);

    // The daily list collects them by branch.
    const daily = await staff.get('/letters');
    expect(daily.status).to.equal(200);
    expect(daily.text).to.contain('Centralbiblioteket').and.contain('href="/letters/CPL/letters.pdf"');

    // Without the form's token nothing moves.
    const forged = await staff.agent
      .post(`/runs/${runId}/printed`)
      .type('form')
      .send({ letters: String(letters[0].id) });
    expect(forged.status).to.equal(403);
    expect((await db.knex('kmc_messages').where({ id: letters[0].id }).first()).status).to.equal('to_print');

    clock.advance(5 * 60_000);
    const at = clock.now();
    const confirmed = await staff.post(`/runs/${runId}/printed`, { letters: letters.map((l) => l.id).join(',') });
    expect(confirmed.status).to.equal(303);
    expect(confirmed.headers.location).to.equal(`/runs/${runId}?done=letters.confirmed&n=3`);
    for (const l of letters) {
      const after = await db.knex('kmc_messages').where({ id: l.id }).first();
      expect(after.status).to.equal('printed');
      const last = await db.knex('kmc_message_events').where({ message_id: l.id }).orderBy('id', 'desc').first();
      expect(last).to.include({ status: 'printed', detail: 'printed; confirmed by Karin Lindqvist', actor: `staff:${staffNumber}` });
      expect(fromDbTime(last.at)?.getTime()).to.equal(Math.floor(at.getTime() / 1000) * 1000);
    }
    const shown = await staff.get(confirmed.headers.location);
    expect(shown.text).to.contain('3 letter(s) marked as printed.');
    expect(shown.text).not.to.contain('wait to be printed');
    expect(shown.text).to.contain('status-printed');
    // Confirming again moves nothing.
    const again = await staff.post(`/runs/${runId}/printed`, { letters: letters.map((l) => l.id).join(',') });
    expect(again.headers.location).to.equal(`/runs/${runId}?done=letters.confirmed&n=0`);
    expect(await db.knex('kmc_audit').where({ action: 'letters.printed' }).count({ n: '*' }).first()).to.deep.equal({ n: 2 });

    // The archive and the dashboard say so, in words.
    const archive = await staff.get('/archive?status=printed');
    expect(archive.text).to.contain(`href="/archive/${letters[0].id}"`).and.contain('Printed');
    const dashboard = await staff.get('/dashboard');
    expect(dashboard.text).to.contain('>Printed<');
    expect((await staff.get('/letters')).text).to.contain('No letters wait to be printed.');
  });

  it("reports the run's SMS that failed, with the SMS centre's answer, escaped", async () => {
    const runId = Number(
      (await db.knex('kmc_runs').where('job', 'like', `routine:${overdueRoutine}:manual:%`).orderBy('id', 'desc').first('id')).id,
    );
    const anna = await db.knex('kmc_messages').where({ run_id: runId, borrowernumber: lib.patrons.anna }).first();
    await db
      .knex('kmc_messages')
      .where({ id: anna.id })
      .update({ channel: 'sms', status: 'failed', to_address: '+46701234567', last_reply: 'ESME_RINVDSTADR <b>' });
    // Staff chose SMS for Jürgen in the review, and there was no number: it stays an e-mail without contact, and is reported.
    const jurgen = await db.knex('kmc_messages').where({ run_id: runId, borrowernumber: lib.patrons.jurgen }).first();
    await db.knex('kmc_messages').where({ id: jurgen.id }).update({ status: 'missing_contact', status_reason: 'no address for sms' });
    await db
      .knex('kmc_review_messages')
      .insert({ message_id: jurgen.id, run_id: runId, excluded: 0, send_as: 'sms', updated_at: new Date() })
      .onConflict('message_id')
      .merge();
    const res = await staff.get(`/runs/${runId}/sms-errors`);
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('+46701234567').and.to.contain('ESME_RINVDSTADR &lt;b&gt;');
    expect(res.text).to.contain(`href="/archive/${jurgen.id}"`).and.to.contain('no address for SMS');
  });

  it('a scheduled run of a routine that needs approval waits as proposed, and the pick list sorts held titles by shelf', async () => {
    const k = lib.builder;
    const shelfItem = async (title: string, location: string, callnumber: string) => {
      const b = await k.biblio({ title, author: 'Author' });
      return {
        biblionumber: b,
        itemnumber: await k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK', location, itemcallnumber: callnumber }),
      };
    };
    const a = await shelfItem('Zebra', 'ADULT', '590 Z');
    const b = await shelfItem('Aardvark', 'CHILD', '590 A');
    const c = await shelfItem('Mammoth', 'ADULT', '560 M');
    for (const it of [a, b, c]) {
      await k.hold({
        borrowernumber: lib.patrons.asa,
        biblionumber: it.biblionumber,
        itemnumber: it.itemnumber,
        branchcode: 'CPL',
        found: 'W',
        waitingdate: '2026-11-23',
        expirationdate: '2026-11-30',
      });
    }
    const routine = await running.services.routines.byName('Hold pickup notices');
    await running.services.routines.update(routine!.id, { needs_approval: true });
    const fired = await running.services.scheduler.fire(
      (await running.services.routines.get(routine!.id))!,
      new Date('2026-11-24T07:00:00Z'),
    );
    expect(fired.created).to.be.greaterThan(0);
    const made = await db.knex('kmc_messages').where({ run_id: fired.runId });
    expect(made.map((m) => m.status)).to.deep.equal(made.map(() => 'proposed'));

    const waiting = await staff.get('/runs?waiting=1');
    expect(waiting.text).to.contain(`href="/runs/${fired.runId}"`);
    const routines = await staff.get('/routines');
    expect(routines.text).to.contain('Runs waiting for approval').and.to.contain(`href="/runs/${fired.runId}"`);

    const list = await staff.get(`/runs/${fired.runId}/pick-list`);
    expect(list.status).to.equal(200);
    const order = ['Mammoth', 'Zebra', 'Aardvark'].map((t) => list.text.indexOf(t));
    expect(order.every((i) => i > 0)).to.equal(true);
    expect(order).to.deep.equal([...order].sort((x, y) => x - y));

    const approve = await staff.post(`/runs/${fired.runId}/review`, {
      view: 'patrons',
      page: '1',
      shown: made.map((m) => String(m.id)),
      keep: made.map((m) => String(m.id)),
      do: 'approve',
    });
    expect(approve.status).to.equal(303);
    const after = await db.knex('kmc_messages').where({ run_id: fired.runId }).pluck('status');
    expect(after.every((s: string) => s === 'pending')).to.equal(true);
  });

  it('a change that cannot be made does not send the message as it was: it goes to the queue instead', async () => {
    const k = lib.builder;
    const patron = await k.patron({
      surname: 'Berg',
      firstname: 'Nils',
      email: 'nils.berg@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    const b = await k.biblio({ title: 'Doktor Glas', author: 'Söderberg, Hjalmar' });
    await k.loan({
      borrowernumber: patron,
      itemnumber: await k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
      dateDue: '2026-11-01',
      branchcode: 'CPL',
    });
    const run = await runNotices(running.services.notices, { type: 'overdue', startedBy: 'test', needsApproval: true });
    // Nils's notice, and Åsa's for the loan left out of her earlier message: it was free to be notified again.
    const made = await db.knex('kmc_messages').where({ run_id: run.runId, borrowernumber: patron });
    expect(made).to.have.length(1);
    expect(
      await db
        .knex('kmc_message_items as i')
        .join('kmc_messages as m', 'm.id', 'i.message_id')
        .where('m.run_id', run.runId)
        .where('m.borrowernumber', lib.patrons.asa)
        .pluck('i.title'),
    ).to.deep.equal(['Gösta Berlings saga']);
    // A message stored without the data it was made from (as by an older version) cannot be rendered for another channel.
    await db.knex('kmc_messages').where({ id: made[0].id }).update({ render_data: null });
    const res = await staff.post(`/runs/${run.runId}/review`, {
      view: 'patrons',
      page: '1',
      shown: [String(made[0].id)],
      keep: [String(made[0].id)],
      [`send_as_${made[0].id}`]: 'print',
      do: 'approve',
    });
    expect(res.status).to.equal(303);
    const after = await db.knex('kmc_messages').where({ id: made[0].id }).first();
    expect(after).to.include({ status: 'failed', channel: 'email' });
    expect(after.status_reason).to.contain('did not keep the data it was made from');
    const queue = await staff.get('/queue');
    expect(queue.text).to.contain(`name="ids" value="${made[0].id}"`);
  });

  it('shows a run at work with a status endpoint and a page that refreshes itself without JavaScript', async () => {
    const [runId] = await db.knex('kmc_runs').insert({
      job: `routine:${overdueRoutine}:manual:at-work`,
      fire_time: '2026-11-24 05:00:00',
      run_date: '2026-11-24',
      message_type: 'overdue',
      status: 'running',
      started_at: '2026-11-24 05:00:00.000',
      started_by: `staff:${staffNumber}`,
    });
    const page = await staff.get(`/runs/${runId}`);
    expect(page.text).to.contain('<noscript><meta http-equiv="refresh" content="3"></noscript>');
    expect(page.text).to.contain(`data-status-url="/runs/${runId}/status"`);
    expect(page.text).to.contain('0 message(s) made so far');
    const status = await staff.get(`/runs/${runId}/status`);
    expect(status.body).to.deep.include({ status: 'running', made: 0 });
    const refused = await staff.post(`/runs/${runId}/review`, { view: 'patrons', page: '1', do: 'approve' });
    expect(refused.status).to.equal(409);
  });
});
