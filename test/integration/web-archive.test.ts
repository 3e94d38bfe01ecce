/**
 * The archive, the patron tab and the nightly anonymisation, against a real
 * MariaDB and a real SMTP server: search by patron, type, channel, status
 * and date; one message as sent with its history; the print view; one
 * patron's messages with the state of their e-mail address; and old
 * messages losing their contact data and text while the counts stay.
 */
import { expect } from 'chai';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { RUN_DAY, type SmallLibrary } from '../support/library';
import type { TestClock } from '../support/sidecar';
import { runNotices } from '../../sidecar/notices';
import type { Running } from '../../sidecar/serve';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { createMemoryLogger } from '../../sidecar/logging';
import { anonymiseOldMessages } from '../../sidecar/archive';
import { anonymiseForFire, ANONYMISE_JOB } from '../../sidecar/archive';
import { main } from '../../sidecar/cli';
import { addStaff, overdueMessageIds, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`the archive, the patron tab and anonymisation (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let mail: MailCapture;
  let clock: TestClock;
  let staff: StaffSession;
  let ids: Record<'asa' | 'jurgen' | 'soren' | 'anna', number>;

  const ids$ = (html: string) => [...html.matchAll(/<td><a href="\/archive\/(\d+)">/g)].map((m) => Number(m[1])).sort((a, b) => a - b);

  before(async () => {
    sidecar = await startStaffSidecar('web_archive', {}, { at: '2026-11-24T05:00:00Z' });
    ({ db, lib, running, mail, clock } = sidecar);
    await runNotices(running.services.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    clock.advance(60_000);
    await running.services.worker.deliverOnce();
    ids = await overdueMessageIds(sidecar);
    const n = await addStaff(lib.builder, {
      userid: 'desk',
      surname: 'Desk',
      modules: ['catalogue', 'circulate'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(running.server, running.services.settings.secret, n, Math.floor(clock.now().getTime() / 1000));
  });

  after(async () => {
    await sidecar.stop();
  });

  it('finds messages by patron name or card number', async () => {
    const card = (await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).first('cardnumber')).cardnumber;
    expect(ids$((await staff.get(`/archive?q=${encodeURIComponent(card)}`)).text)).to.deep.equal([ids.asa]);
    expect(ids$((await staff.get(`/archive?q=${encodeURIComponent('søren')}`)).text)).to.deep.equal([ids.soren]);
    expect(ids$((await staff.get(`/archive?q=${encodeURIComponent('Jürgen Müller')}`)).text)).to.deep.equal([ids.jurgen]);
    const none = await staff.get('/archive?q=Nobody');
    expect(none.text).to.contain('No patron matches &quot;Nobody&quot;.');
    // A LIKE wildcard is searched for as itself.
    expect((await staff.get('/archive?q=%25')).text).to.contain('No patron matches');
  });

  it('filters by type, channel, status and library day', async () => {
    expect(ids$((await staff.get('/archive?channel=print')).text)).to.deep.equal([ids.soren, ids.anna].sort((a, b) => a - b));
    expect(ids$((await staff.get('/archive?channel=email&status=sent')).text)).to.deep.equal([ids.asa, ids.jurgen].sort((a, b) => a - b));
    expect(ids$((await staff.get('/archive?type=overdue')).text)).to.have.length(4);
    expect(ids$((await staff.get('/archive?type=predue')).text)).to.deep.equal([]);
    // Made at 06:00 in Stockholm on the run day.
    expect(ids$((await staff.get(`/archive?from=${RUN_DAY}&to=${RUN_DAY}`)).text)).to.have.length(4);
    expect(ids$((await staff.get('/archive?from=2026-11-25')).text)).to.deep.equal([]);
    expect(ids$((await staff.get('/archive?to=2026-11-23')).text)).to.deep.equal([]);
    // Words it does not know are ignored, not an error.
    expect((await staff.get('/archive?status=bogus&from=yesterday')).status).to.equal(200);
  });

  it('shows one message as sent, with its history, first send time and last change; and a print view', async () => {
    const page = await staff.get(`/archive/${ids.asa}`);
    expect(page.status).to.equal(200);
    const sent = mail.messages.find((m) => m.envelopeTo.includes('asa.oberg@example.org'))!;
    expect(page.text).to.contain(sent.parsed.subject!.replace(/&/g, '&amp;'));
    expect(page.text).to.contain('Röda rummet').and.to.contain('Gösta Berlings saga');
    expect(page.text).to.contain('asa.oberg@example.org');
    // Times in the library's zone: made 06:00, sent 06:01 Stockholm time.
    expect(page.text).to.contain('2026-11-24 06:00').and.to.contain('2026-11-24 06:01');
    for (const s of ['Pending', 'Sending', 'Sent']) expect(page.text).to.contain(`>${s}</span>`);
    const print = await staff.get(`/archive/${ids.asa}/print`);
    expect(print.status).to.equal(200);
    expect(print.text).to.contain('class="embed"').and.to.contain('data-print').and.not.to.contain('<nav');
    expect(print.text).to.contain('Centralbiblioteket');
  });

  it("the patron tab: one patron's messages and the state of their e-mail address, small enough to embed", async () => {
    await db.knex('kmc_email_verifications').insert({
      borrowernumber: lib.patrons.asa,
      email: 'asa.oberg@example.org',
      state: 'pending',
      sent_at: '2026-11-24 05:00:00.000',
      expires_at: '2026-11-27 05:00:00.000',
      updated_at: '2026-11-24 05:00:00.000',
    });
    const tab = await staff.get(`/patrons/${lib.patrons.asa}/messages`);
    expect(tab.status).to.equal(200);
    expect(tab.text).to.contain('class="embed"').and.not.to.contain('<nav');
    expect(tab.text).to.contain('Waiting for the patron to verify').and.to.contain('until 2026-11-27 06:00');
    expect(tab.text).to.contain(`href="/archive/${ids.asa}/print"`);
    expect(tab.text).not.to.contain(`/archive/${ids.jurgen}`);
    const other = await staff.get(`/patrons/${lib.patrons.futureOnly}/messages`);
    expect(other.text).to.contain('This patron has no messages.').and.to.contain('The address has not been checked yet.');
    expect((await staff.get('/patrons/999999/messages')).status).to.equal(404);
  });

  it('anonymises messages older than the retention period: contact data and text go, the counts stay', async () => {
    // Søren's letter was printed and confirmed: it is done, as a sent e-mail is.
    expect(
      await running.services.store.confirmPrinted({ ids: [ids.soren], staffName: 'Desk', actor: 'staff:1', at: clock.now() }),
    ).to.deep.equal([ids.soren]);
    const countsBefore = await db.knex('kmc_messages').groupBy('status', 'channel').select('status', 'channel').count({ n: '*' });
    // Åsa's and Søren's messages are 400 days old; Jürgen's too, but it is still on its way.
    const old = '2025-10-20 05:00:00.000';
    await db.knex('kmc_messages').whereIn('id', [ids.asa, ids.soren, ids.jurgen]).update({ created_at: old });
    await db.knex('kmc_messages').where({ id: ids.jurgen }).update({ status: 'pending' });
    const result = await anonymiseOldMessages(running.services, { retentionDays: 365 });
    expect(result).to.include({ messages: 2, items: 3 });

    const asa = await db.knex('kmc_messages').where({ id: ids.asa }).first();
    expect(asa).to.include({
      to_address: null,
      subject: null,
      body_text: null,
      body_html: null,
      last_reply: null,
      render_data: null,
      status: 'sent',
      channel: 'email',
    });
    expect(asa.anonymised_at).to.equal('2026-11-24 05:01:00.000');
    expect(asa.updated_at).to.equal(asa.anonymised_at);
    expect(await db.knex('kmc_message_items').where({ message_id: ids.asa }).select('title', 'author', 'barcode')).to.deep.equal([
      { title: null, author: null, barcode: null },
      { title: null, author: null, barcode: null },
    ]);
    const events = await db.knex('kmc_message_events').where({ message_id: ids.asa }).orderBy('id').select('status', 'detail');
    expect(events.slice(0, -1).every((e) => e.detail === null)).to.equal(true);
    expect(events[events.length - 1]).to.deep.equal({ status: 'sent', detail: 'anonymised after 365 days' });
    const jurgen = await db.knex('kmc_messages').where({ id: ids.jurgen }).first();
    expect(jurgen.anonymised_at).to.equal(null);
    expect(jurgen.body_text).to.contain('Zauberberg');

    await db.knex('kmc_messages').where({ id: ids.jurgen }).update({ status: 'sent' });
    const countsAfter = await db.knex('kmc_messages').groupBy('status', 'channel').select('status', 'channel').count({ n: '*' });
    expect(countsAfter).to.deep.equal(countsBefore);
    // Run again: nothing more to do.
    await db.knex('kmc_messages').where({ id: ids.jurgen }).update({ created_at: '2026-11-24 05:00:00.000' });
    expect((await anonymiseOldMessages(running.services, { retentionDays: 365 })).messages).to.equal(0);

    const page = await staff.get(`/archive/${ids.asa}`);
    expect(page.text).to.contain('The text and the contact data were removed').and.not.to.contain('asa.oberg@example.org');
    expect((await staff.get(`/patrons/${lib.patrons.asa}/messages`)).text).to.contain('Anonymised');
  });

  it('the nightly run: one fire time is done once, even by two sidecars', async () => {
    await db.knex('kmc_messages').where({ id: ids.anna }).update({ created_at: '2025-01-01 00:00:00.000', status: 'cancelled' });
    const fire = new Date('2026-11-25T02:30:00Z');
    const deps = {
      store: running.services.store,
      runs: running.services.runs,
      clock,
      logger: createMemoryLogger(),
      settings: { retentionDays: 365, anonymiseAt: '03:30', timezone: 'Europe/Stockholm' },
    };
    const [a, b] = await Promise.all([anonymiseForFire(deps, fire), anonymiseForFire(deps, fire)]);
    expect([a, b].filter((r) => r === null)).to.have.length(1);
    expect((a ?? b)!.messages).to.equal(1);
    const runs = await db.knex('kmc_runs').where({ job: ANONYMISE_JOB });
    expect(runs).to.have.length(1);
    expect(runs[0].status).to.equal('finished');
    expect(JSON.parse(runs[0].stats)).to.include({ messages: 1 });
    // The run list of the routines page leaves the archive's own runs out.
    expect((await db.knex('kmc_messages').where({ id: ids.anna }).first()).anonymised_at).to.not.equal(null);
  });

  it('kmc archive anonymise: the same from the command line, and a clear word for a bad --days', async () => {
    await db.knex('kmc_messages').where({ id: ids.jurgen }).update({ created_at: '2026-11-01 00:00:00.000' });
    const env = { KMC_DATABASE_URL: db.url, KMC_LOG_LEVEL: 'error' };
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) };
    expect(await main(['archive', 'anonymise', '--days', '7', '--json'], env, io)).to.equal(0);
    const printed = JSON.parse(out[0]);
    expect(printed).to.include({ messages: 1, retentionDays: 7 });
    await main(['archive', 'anonymise', '--days', 'soon'], env, io).then(
      () => expect.fail('a bad --days must be refused'),
      (e: unknown) => {
        expect(e).to.have.property('code', 'KMC_USAGE');
        expect(e).to.have.property('message').that.contains('--days takes a whole number');
      },
    );
  });
});
