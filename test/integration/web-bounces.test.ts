/**
 * What staff see of bounces: the patron tab shows the address's state with
 * its reason and date and a button (POST, CSRF, audited) that clears it; the
 * dashboard counts the week's bounces by kind and lists the addresses that
 * went bad; the queue shows a bounced notice that could not be replaced.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import type { Running } from '../../sidecar/serve';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`bounces on the staff pages (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let running: Running;
  let desk: StaffSession;
  let messageId: number;
  const ASA = 'asa.oberg@example.org';

  before(async () => {
    sidecar = await startStaffSidecar('web_bounces', {
      desk: { userid: 'desk', surname: 'Disk', modules: ['catalogue', 'circulate'], branchcode: 'CPL', categorycode: 'PT' },
    });
    running = sidecar.running;
    const { lib, clock } = sidecar;
    const kmc = running.services;
    // An e-mail to Åsa that went out, with no rule to replace it by: it stays in the queue once bounced.
    const made = await kmc.store.insertMessages(
      [
        {
          idempotencyKey: 'web-bounce-1',
          messageType: 'overdue',
          level: 1,
          borrowernumber: lib.patrons.asa,
          branchcode: 'CPL',
          channel: 'email',
          status: 'pending',
          to: ASA,
          from: 'central@bibliotek.example.org',
          lang: 'sv',
          subject: 'Försenat',
          text: 'Hej',
          html: null,
          fee: 0,
          ruleId: null,
          runId: null,
          items: [],
        },
      ],
      clock.now(),
      'test',
    );
    messageId = made.ids[0];
    await sidecar.db.knex('kmc_messages').where({ id: messageId }).update({ status: 'sent' });
    const report = { kind: 'hard' as const, status: '5.1.1', reason: 'userunknown', diagnostic: 'User unknown' };
    await kmc.store.recordBounce(messageId, report, clock.now(), 'test');
    await kmc.addressStates.recordBounce({ messageId, borrowernumber: lib.patrons.asa, address: ASA, ...report, at: clock.now() });
    await kmc.addressStates.recordBounce({
      messageId,
      borrowernumber: lib.patrons.asa,
      address: ASA,
      kind: 'soft',
      status: '4.2.2',
      reason: 'mailboxfull',
      diagnostic: 'Mailbox full',
      at: clock.now(),
    });
    desk = await StaffSession.launch(running.server, kmc.settings.secret, sidecar.n.desk, Math.floor(clock.now().getTime() / 1000));
  });

  after(async () => {
    await sidecar.stop();
  });

  it('the dashboard counts the week’s bounces by kind and lists the address that went bad', async () => {
    const res = await desk.get('/dashboard?lang=en');
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/id="bounce-counts">Hard bounces: 1, Soft bounces: 1, Complaints: 0</);
    const table = /<table id="went-bad">[\s\S]*?<\/table>/.exec(res.text)?.[0] ?? '';
    expect(table).to.contain(ASA).and.contain('Undeliverable').and.contain('hard bounce: 5.1.1 (userunknown)');
  });

  it('the queue shows the bounced notice that could not be replaced', async () => {
    const res = await desk.get('/queue?status=bounced&lang=en');
    expect(res.status).to.equal(200);
    expect(res.text).to.contain(`/archive/${String(messageId)}`);
    expect(res.text).to.contain('Bounced');
  });

  it('the patron tab shows the state with reason and date, and the clear button clears it, audited', async () => {
    const borrowernumber = sidecar.lib.patrons.asa;
    const page = await desk.get(`/patrons/${String(borrowernumber)}/messages?lang=en`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('Undeliverable: notices go by another channel').and.contain('hard bounce: 5.1.1 (userunknown)');
    expect(page.text).to.contain('since 2026-11-24');

    // Without the CSRF token nothing changes.
    const forged = await desk.agent
      .post(`/patrons/${String(borrowernumber)}/address-state`)
      .type('form')
      .send({ address: ASA });
    expect(forged.status).to.equal(403);
    expect((await running.services.addressStates.check([{ borrowernumber, email: ASA }])).get(borrowernumber)).to.equal('undeliverable');

    const res = await desk.post(`/patrons/${String(borrowernumber)}/address-state`, { address: ASA });
    expect(res.status).to.equal(303);
    expect((await running.services.addressStates.check([{ borrowernumber, email: ASA }])).size).to.equal(0);
    const after = await desk.get(`/patrons/${String(borrowernumber)}/messages?lang=en&done=cleared`);
    expect(after.text).to.contain('The address is used for notices again.').and.not.contain('Undeliverable: notices go by another channel');
    const audit = await sidecar.db.knex('kmc_audit').where({ action: 'patron.address_state_cleared' }).select();
    expect(audit).to.have.length(1);
    expect(audit[0]).to.include({ borrowernumber: sidecar.n.desk, object_type: 'patron', object_id: String(borrowernumber) });
    expect(String(audit[0].detail)).to.not.contain(ASA);
  });
});
