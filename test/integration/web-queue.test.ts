/**
 * The message queue, against a real MariaDB and a real SMTP server: failed
 * and missing-contact messages tried again, sent by another channel,
 * cancelled or marked handled, one at a time or ticked together; each
 * change in the message's history and in the audit record.
 */
import { expect } from 'chai';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { RUN_DAY, type SmallLibrary } from '../support/library';
import type { TestClock } from '../support/sidecar';
import { runNotices } from '../../sidecar/notices';
import type { Running } from '../../sidecar/serve';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { addStaff, overdueMessageIds, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`the message queue (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let mail: MailCapture;
  let clock: TestClock;
  let staff: StaffSession;
  let staffNumber: number;
  let ids: Record<'asa' | 'jurgen' | 'soren' | 'anna', number>;

  const listed = async (query = '') =>
    [...(await staff.get(`/queue${query}`)).text.matchAll(/name="ids" value="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const message = (id: number) => db.knex('kmc_messages').where({ id }).first();

  before(async () => {
    sidecar = await startStaffSidecar('web_queue', {}, { at: '2026-11-24T05:00:00Z' });
    ({ db, lib, running, mail, clock } = sidecar);
    await runNotices(running.services.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    ids = await overdueMessageIds(sidecar);
    // Two e-mails the server refused, a letter that could not be written, and Søren missing an e-mail address.
    await db
      .knex('kmc_messages')
      .whereIn('id', [ids.asa, ids.jurgen])
      .update({ status: 'failed', status_reason: 'SMTP_REJECTED: 550 mailbox unavailable', attempts: 8 });
    await db.knex('kmc_messages').where({ id: ids.anna }).update({ status: 'failed', status_reason: 'PRINT_WRITE_FAILED' });
    await db
      .knex('kmc_messages')
      .where({ id: ids.soren })
      .update({ status: 'missing_contact', channel: 'email', to_address: null, status_reason: 'email: no e-mail address' });
    staffNumber = await addStaff(lib.builder, {
      userid: 'desk',
      surname: 'Desk',
      modules: ['catalogue', 'circulate'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(
      running.server,
      running.services.settings.secret,
      staffNumber,
      Math.floor(clock.now().getTime() / 1000),
    );
  });

  after(async () => {
    await sidecar.stop();
  });

  it('lists failed and missing-contact messages with their reasons, filterable', async () => {
    expect(await listed()).to.deep.equal(Object.values(ids).sort((a, b) => a - b));
    expect(await listed('?status=missing_contact')).to.deep.equal([ids.soren]);
    expect(await listed('?channel=print')).to.deep.equal([ids.anna]);
    expect(await listed('?branch=HAF')).to.deep.equal([ids.jurgen]);
    expect((await staff.get('/queue')).text).to.contain('SMTP_REJECTED: 550 mailbox unavailable');
  });

  it('offers to send again only by the channels set up here (no SMS without an SMS account)', async () => {
    const page = (await staff.get('/queue')).text;
    const select = /<select id="resend-channel" name="channel">([\s\S]*?)<\/select>/.exec(page)?.[1] ?? '';
    expect([...select.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1])).to.deep.equal(['', 'email', 'print']);
  });

  it('tries a failed message again: back in the queue with a fresh budget, and it goes', async () => {
    const res = await staff.post('/queue', { one: `retry:${ids.jurgen}`, back: '/queue' });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/queue?done=queue.done&n=1/1');
    expect(await message(ids.jurgen)).to.include({ status: 'pending', attempts: 0, status_reason: null });
    expect(await listed()).not.to.include(ids.jurgen);
    const stats = await running.services.worker.deliverOnce();
    expect(stats.sent).to.equal(1);
    expect(mail.messages.map((m) => m.envelopeTo).flat()).to.include('juergen.mueller@example.net');
    const events = await db.knex('kmc_message_events').where({ message_id: ids.jurgen }).pluck('actor');
    expect(events).to.include(`staff:${staffNumber}`);
  });

  it('does not try a missing-contact message again while the patron still has no address, and says so', async () => {
    const res = await staff.post('/queue', { one: `retry:${ids.soren}`, back: '/queue' });
    expect(res.headers.location).to.equal('/queue?done=queue.partly&n=0/1');
    expect((await message(ids.soren)).status).to.equal('missing_contact');
    expect(await listed()).to.include(ids.soren);
  });

  it('sends a message again by another channel: a new message from the same data; the old one keeps its status and leaves the queue', async () => {
    const res = await staff.post('/queue', {
      action: 'resend',
      channel: 'print',
      ids: [String(ids.soren)],
      back: '/queue?status=missing_contact',
    });
    expect(res.headers.location).to.equal('/queue?status=missing_contact&done=queue.done&n=1/1');
    const handled = await db.knex('kmc_queue_handled').where({ message_id: ids.soren }).first();
    expect(handled).to.include({ how: 'resent', handled_by: staffNumber });
    const fresh = await message(handled.resent_as);
    expect(fresh).to.include({
      status: 'pending',
      channel: 'print',
      borrowernumber: lib.patrons.soren,
      from_address: 'Centralbiblioteket',
    });
    expect(fresh.to_address).to.contain('Nørregade 7');
    expect(fresh.body_text).to.contain('Kongens Fald');
    // The loan stays covered by the first message; the new one covers it without a key of its own.
    const items = await db.knex('kmc_message_items').where({ message_id: fresh.id });
    expect(items.map((i) => [i.title, i.coverage_key])).to.deep.equal([['Kongens Fald', null]]);
    expect((await message(ids.soren)).status).to.equal('missing_contact');
    expect(await listed()).not.to.include(ids.soren);
    const history = await db.knex('kmc_message_events').where({ message_id: ids.soren }).pluck('detail');
    expect(history).to.include(`sent again by print as message ${fresh.id}`);
    // The same channel again is refused, with no second message.
    await db.knex('kmc_messages').where({ id: ids.asa }).update({ channel: 'email' });
    const same = await staff.post('/queue', { action: 'resend', channel: 'email', ids: [String(ids.asa)], back: '/queue' });
    expect(same.headers.location).to.equal('/queue?done=queue.partly&n=0/1');
  });

  it('asks for a channel before sending by another one', async () => {
    const res = await staff.post('/queue', { action: 'resend', ids: [String(ids.asa)], back: '/queue' });
    expect(res.headers.location).to.equal('/queue?done=queue.need_channel');
    const page = await staff.get(res.headers.location);
    expect(page.text).to.contain('Choose the channel to send by.');
  });

  it('marks a message handled: it leaves the queue, its status stays true', async () => {
    await staff.post('/queue', { one: `handled:${ids.anna}`, back: '/queue' });
    expect((await message(ids.anna)).status).to.equal('failed');
    expect(await listed()).not.to.include(ids.anna);
    const history = await db.knex('kmc_message_events').where({ message_id: ids.anna }).orderBy('id', 'desc').first();
    expect(history).to.include({ status: 'failed', detail: 'marked as handled by staff', actor: `staff:${staffNumber}` });
  });

  it('cancels many at once, and counts only those still in the queue', async () => {
    const res = await staff.post('/queue', {
      action: 'cancel',
      ids: [String(ids.asa), String(ids.anna), String(ids.jurgen)],
      back: '/queue',
    });
    expect(res.headers.location).to.equal('/queue?done=queue.partly&n=1/3');
    expect((await message(ids.asa)).status).to.equal('cancelled');
    expect((await message(ids.anna)).status).to.equal('failed');
    expect((await message(ids.jurgen)).status).to.equal('sent');
    expect(await listed()).to.deep.equal([]);
    expect((await staff.get('/queue')).text).to.contain('Nothing to deal with.');
    const audit = await db
      .knex('kmc_audit')
      .where({ borrowernumber: staffNumber })
      .where('action', 'like', 'queue.%')
      .orderBy('id')
      .pluck('action');
    expect(audit).to.deep.equal(['queue.retry', 'queue.retry', 'queue.resend', 'queue.resend', 'queue.handled', 'queue.cancel']);
  });

  it('asks to tick something when nothing was ticked', async () => {
    const res = await staff.post('/queue', { action: 'cancel', back: '/queue' });
    expect(res.headers.location).to.equal('/queue?done=queue.nothing');
  });
});
