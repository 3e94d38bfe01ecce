/**
 * Every path by which a message is placed or moved goes through the queue's
 * transitions and its one placement rule: generation, approval, a retry and
 * a resend by staff, the quiet-hours release and the verification release.
 * A staff retry of an SMS during its branch's quiet hours ends held (and the
 * normal release sends it on); a resend by e-mail to an address waiting for
 * verification ends held (and is released when it is verified).
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestSmsc } from '../support/smsc';
import { RunApproval, resentContent, runNotices } from '../../sidecar/notices';
import { QueueActions, QuietHours, releaseQuietHours, QUIET_HOURS_REASON, WAITING_FOR_VERIFICATION } from '../../sidecar/queue';
import { centralLibrary, clearMessages, engineWorld, smsEnv, stored, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';
/** 09:00 in Stockholm: outside the quiet hours. */
const MORNING = `${RUN_DAY}T08:00:00Z`;
/** 23:00 in Stockholm: inside the quiet hours (21:00 to 08:00). */
const NIGHT = `${RUN_DAY}T22:00:00Z`;
/** 08:01 the next morning: they are over. */
const NEXT_MORNING = '2026-11-25T07:01:00Z';

describe(`the queue's transitions and placement rule (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let smsc: TestSmsc;
  let patron: number;

  const quietHours = () => QuietHours.load(w.kmc.branches, 'Europe/Stockholm');
  const release = () => releaseQuietHours({ store: w.kmc.store, quietHours, clock: w.clock, logger: w.kmc.logger }, 'test');
  const actions = () =>
    new QueueActions({
      store: w.kmc.store,
      host: w.kmc.host,
      clock: w.clock,
      defaultCountry: w.kmc.settings.defaultCountry,
      quietHours,
      emailGate: w.kmc.notices.emailGate,
      renderFor: (message, channel) => resentContent(w.kmc.notices, message, channel),
    });
  const overdue = (extra: { needsApproval?: boolean } = {}) =>
    runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test', ...extra });
  const only = async () => {
    const all = await stored(w.db.knex, { borrowernumber: patron });
    expect(all).to.have.length(1);
    return all[0];
  };
  const history = async (id: number) => (await w.kmc.store.events(id)).map((e) => [e.status, e.detail, e.actor]);
  /** As the delivery worker leaves a message it gave up on. */
  const failed = (id: number) => w.db.knex('kmc_messages').where({ id }).update({ status: 'failed', status_reason: 'SMS_REJECTED: 0x0b' });

  before(async () => {
    smsc = await TestSmsc.start();
    w = await engineWorld('transitions', { now: MORNING, env: smsEnv(smsc.url) });
    const { k } = w;
    await centralLibrary(k);
    patron = await k.patron({
      surname: 'Lind',
      firstname: 'Eva',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
      email: 'eva.lind@example.org',
      mobile: '070-123 45 67',
      address: 'Lindvägen 1',
      city: 'Solna',
      dateenrolled: '2020-01-01',
    });
    const b = await k.biblio({ title: 'Röda rummet', author: 'Strindberg, August' });
    await k.loan({
      borrowernumber: patron,
      itemnumber: await k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
      dateDue: '2026-11-10',
      branchcode: 'CPL',
    });
  });

  after(async () => {
    await w.close();
    await smsc.close();
  });

  beforeEach(async () => {
    await clearMessages(w.db.knex);
    await w.db.knex('kmc_run_approvals').delete();
    await w.db.knex('kmc_branch_settings').delete();
    await w.db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '08:00:00' });
    await w.db.knex('kmc_settings').where({ name: 'verification_baseline_at' }).delete();
    await w.db.knex('kmc_email_verifications').delete();
    await w.db
      .knex('kmc_rules')
      .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
      .update({ channels: 'sms,print', send_all_channels: 0 });
    w.clock.set(MORNING);
  });

  it('generation: an SMS made in the quiet hours is held with their reason, and the quiet-hours release queues it when they end', async () => {
    w.clock.set(NIGHT);
    await overdue();
    const made = await only();
    expect(made).to.include({ channel: 'sms', status: 'held' });
    expect(made.status_reason).to.equal('SMS quiet hours at CPL (21:00 to 08:00): it goes out when they end');
    expect(await release()).to.equal(0);
    w.clock.set(NEXT_MORNING);
    expect(await release()).to.equal(1);
    expect(await only()).to.include({ status: 'pending', status_reason: null });
    expect(await history(made.id)).to.deep.equal([
      ['held', made.status_reason, 'test'],
      ['pending', 'SMS quiet hours are over', 'test'],
    ]);
  });

  it('approval: a proposed message goes where the placement rule puts it now (held at night, the queue by day)', async () => {
    w.clock.set(NIGHT);
    const night = await overdue({ needsApproval: true });
    const proposed = await only();
    expect(proposed.status).to.equal('proposed');
    expect(proposed.status_reason).to.equal(
      `waiting for staff approval; then SMS quiet hours at CPL (21:00 to 08:00): it goes out when they end`,
    );
    const approval = new RunApproval(w.kmc.notices);
    expect(await approval.approve(night.runId!, 7)).to.include({ queued: 0, held: 1 });
    expect((await only()).status).to.equal('held');
    expect((await only()).status_reason).to.match(new RegExp(`^${QUIET_HOURS_REASON}`));
    // A second approval of the same run does nothing.
    expect(await approval.approve(night.runId!, 8)).to.equal(null);

    await clearMessages(w.db.knex);
    w.clock.set(MORNING);
    const day = await overdue({ needsApproval: true });
    expect(await approval.approve(day.runId!, 7)).to.include({ queued: 1, held: 0 });
    const queued = await only();
    expect(queued).to.include({ status: 'pending', status_reason: null });
    expect((await history(queued.id)).at(-1)).to.deep.equal(['pending', 'approved by staff', 'staff:7']);
  });

  it('a staff retry of an SMS during the quiet hours ends held, and the quiet-hours release sends it on', async () => {
    await overdue();
    const sms = await only();
    expect(sms).to.include({ channel: 'sms', status: 'pending' });
    await failed(sms.id);
    w.clock.set(NIGHT);
    expect(await actions().retry(sms.id, 'staff:7')).to.equal('done');
    const held = await only();
    expect(held).to.include({ status: 'held', attempts: 0, next_attempt_at: null });
    expect(held.status_reason).to.equal('SMS quiet hours at CPL (21:00 to 08:00): it goes out when they end');
    expect((await history(sms.id)).at(-1)).to.deep.equal(['held', `tried again by staff; ${held.status_reason}`, 'staff:7']);
    // Nothing goes out while they last.
    expect(await w.kmc.worker.deliverOnce()).to.include({ sent: 0 });
    w.clock.set(NEXT_MORNING);
    expect(await release()).to.equal(1);
    expect((await only()).status).to.equal('pending');
  });

  it('a staff retry by day goes straight to the queue, as before', async () => {
    await overdue();
    const sms = await only();
    await failed(sms.id);
    expect(await actions().retry(sms.id, 'staff:7')).to.equal('done');
    expect(await only()).to.include({ status: 'pending', status_reason: null, attempts: 0 });
    expect((await history(sms.id)).at(-1)).to.deep.equal(['pending', 'tried again by staff', 'staff:7']);
  });

  it('a resend by e-mail to an address waiting for verification ends held, and is released when the address is verified', async () => {
    await overdue();
    const sms = await only();
    await failed(sms.id);
    // The verification has taken its first look, and has not seen this address yet: it waits for the patron.
    await w.db.knex('kmc_settings').insert({ name: 'verification_baseline_at', value: '2026-11-01 00:00:00' });
    const resent = await actions().resend(sms.id, 'email', 'staff:7', 7);
    expect(resent.outcome).to.equal('done');
    const mail = (await w.kmc.store.get(resent.newId!))!;
    expect(mail).to.include({ channel: 'email', status: 'held', to_address: 'eva.lind@example.org', next_attempt_at: null });
    expect(mail.status_reason).to.match(new RegExp(`^${WAITING_FOR_VERIFICATION}; sent again by staff instead of message ${sms.id}`));
    expect((await w.kmc.store.get(sms.id))!.status).to.equal('failed');
    expect(await w.kmc.worker.deliverOnce()).to.include({ sent: 0 });

    const verified = await w.kmc.verification.markVerified(patron, 'staff:7');
    expect(verified.released).to.equal(1);
    const released = (await w.kmc.store.get(mail.id))!;
    expect(released).to.include({ status: 'pending', status_reason: null, to_address: 'eva.lind@example.org' });
    expect((await history(mail.id)).map(([status]) => status)).to.deep.equal(['held', 'pending']);
  });

  it('a resend by SMS in the quiet hours ends held too, found by the quiet-hours release', async () => {
    await w.db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ channels: 'print' });
    await overdue();
    const letter = await only();
    expect(letter.channel).to.equal('print');
    await failed(letter.id);
    w.clock.set(NIGHT);
    const resent = await actions().resend(letter.id, 'sms', 'staff:7', 7);
    expect(resent.outcome).to.equal('done');
    expect((await w.kmc.store.get(resent.newId!))!).to.include({ channel: 'sms', status: 'held' });
    w.clock.set(NEXT_MORNING);
    expect(await release()).to.equal(1);
    expect((await w.kmc.store.get(resent.newId!))!.status).to.equal('pending');
  });

  it('cancel and handled by staff: the one writes cancelled, the other only a line of history', async () => {
    await overdue();
    const sms = await only();
    await failed(sms.id);
    expect(await actions().markHandled(sms.id, 'staff:7', 7)).to.equal('done');
    expect((await only()).status).to.equal('failed');
    expect((await history(sms.id)).at(-1)).to.deep.equal(['failed', 'marked as handled by staff', 'staff:7']);
    // Dealt with: it left the staff queue, so it can no longer be cancelled from there.
    expect(await actions().cancel(sms.id, 'staff:7')).to.equal('not_in_queue');
    await w.db.knex('kmc_queue_handled').delete();
    expect(await actions().cancel(sms.id, 'staff:7')).to.equal('done');
    expect(await only()).to.include({ status: 'cancelled', status_reason: 'cancelled by staff' });
  });
});
