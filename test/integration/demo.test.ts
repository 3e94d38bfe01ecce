/**
 * The demo as a newcomer meets it: its summary says letters wait to print,
 * "Run now" on the overdue routine (which waits for approval) proposes
 * messages to review, and the captured SMS are a page with a table.
 */
import { expect } from 'chai';
import { startDemo, type Demo } from '../../sidecar/demo';
import { dropDatabase } from '../../sidecar/db';
import { StaffSession } from './web-support';
import { SEED_LOCATIONS } from '../../sidecar/fixture';
import { sendStaffMessage } from '../../sidecar/notices';
import { skipCountsOf } from '../../sidecar/runs';

// Named after this process, so two test runs on one machine do not share it.
const DEMO_DB = `mysql://root@127.0.0.1:3306/kmc_demo_test_${process.pid}`;

describe('the demo: its workflow and its capture pages', function () {
  this.timeout(300_000);
  let demo: Demo;
  const lines: string[] = [];

  before(async () => {
    demo = await startDemo(
      {
        ...process.env,
        KMC_DEMO_DATABASE_URL: DEMO_DB,
        KMC_PORT: '0',
        KMC_DEMO_SMTP_PORT: '0',
        KMC_DEMO_SMPP_PORT: '0',
        KMC_LOG_LEVEL: 'error',
      },
      { stdout: (s) => lines.push(s), stderr: () => undefined },
    );
  });

  after(async () => {
    await demo.stop();
    await dropDatabase(DEMO_DB);
  });

  it('says letters wait to print rather than counting them as sent', () => {
    const summary = lines.find((l) => l.startsWith('Delivered:'));
    expect(summary).to.match(/\d+ letter\(s\) waiting to print \(to_print\)/);
  });

  it('its first run tells the waiting holds: the demo library is new, so nobody told them before', async () => {
    const { services } = demo.running;
    const run = await services.knex('kmc_runs').where({ message_type: 'hold_waiting' }).orderBy('id').first('stats');
    expect(skipCountsOf(run.stats).skippedBy).not.to.have.property('waiting_before_first_run');
    const made = await services.knex('kmc_messages').where({ message_type: 'hold_waiting' }).count({ n: '*' }).first();
    expect(Number(made!.n)).to.be.greaterThan(1);
  });

  it('"Run now" on the overdue routine, which waits for approval, proposes messages and offers Approve', async () => {
    const { services, server } = demo.running;
    const routine = (await services.routines.list()).find((r) => r.message_type === 'overdue')!;
    expect(routine.needs_approval).to.equal(true);
    const staff = await StaffSession.signIn(server, 'admin', 'koha-demo');
    const started = await staff.post(`/routines/${routine.id}/run`, {});
    expect(started.status, started.text).to.equal(303);
    const runPath = started.headers.location;
    for (let i = 0; i < 400; i++) {
      const status = await staff.get(`${runPath}/status`);
      if (status.body.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await staff.get(runPath);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('value="approve"').and.not.contain('id="why-nothing"');
    const runId = Number(/\/runs\/(\d+)$/.exec(runPath)![1]);
    const proposed = (await services.store.runCounts(runId)).byStatus.proposed;
    expect(proposed).to.be.greaterThan(0);

    // Approving everything as proposed queues it, and the worker sends it: e-mail to the capture server, letters to print.
    const ids = (await services.knex('kmc_messages').where({ run_id: runId, status: 'proposed' }).pluck('id')).map(String);
    const approved = await staff.post(`${runPath}/review`, { view: 'patrons', page: '1', shown: ids, keep: ids, do: 'approve' });
    expect(approved.status, approved.text).to.equal(303);
    await services.worker.deliverOnce();
    const after = await services.store.runCounts(runId);
    expect(after.byStatus).not.to.have.property('proposed');
    const n = (status: string) => (after.byStatus[status] as number | undefined) ?? 0;
    const out = n('sent') + n('delivered') + n('to_print');
    expect(out, JSON.stringify(after.byStatus)).to.be.greaterThan(0);
  });

  it('shows the captured SMS as a page with a table, one row per SMS, the text escaped', async () => {
    // An SMS from staff, whatever the demo's own runs sent by SMS today: markup in it must show as text.
    const { services } = demo.running;
    const mobile = await services
      .knex('borrowers')
      .whereNotNull('smsalertnumber')
      .where('smsalertnumber', '<>', '')
      .first('borrowernumber');
    const sent = await sendStaffMessage(services.notices, {
      borrowernumber: Number(mobile.borrowernumber),
      channel: 'sms',
      text: 'Your <b>card</b> & PIN are ready',
      actor: 'test',
    });
    expect(sent.channel).to.equal('sms');
    await services.worker.deliverOnce();
    const staff = await StaffSession.signIn(demo.running.server, 'admin', 'koha-demo');
    const page = await staff.get('/demo/sms');
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.match(/^text\/html/);
    expect(page.text).to.contain('<table id="captured-sms">');
    expect(demo.smsc.messages.length).to.be.greaterThan(0);
    const rows = page.text.split('<tbody>')[1].match(/<tr>/g) ?? [];
    expect(rows).to.have.length(demo.smsc.messages.length);
    const first = demo.smsc.messages[0];
    expect(page.text).to.contain(`<td>${first.to}</td>`);
    expect(page.text).to.contain('Your &lt;b&gt;card&lt;/b&gt; &amp; PIN are ready').and.not.contain('<b>card</b>');
  });

  it("the pick list of the held titles names shelving locations by Koha's LOC names, not their codes", async () => {
    const { services, server } = demo.running;
    const run = await services.knex('kmc_runs').where({ message_type: 'hold_waiting' }).orderBy('id').first('id');
    const staff = await StaffSession.signIn(server, 'admin', 'koha-demo');
    const list = await staff.get(`/runs/${run.id}/pick-list`);
    expect(list.status).to.equal(200);
    const rows = list.text.split('<tbody>')[1] ?? '';
    expect(rows).to.contain('<tr>');
    expect(SEED_LOCATIONS.some((l) => rows.includes(`<td>${l.name}</td>`))).to.equal(true);
    for (const l of SEED_LOCATIONS) expect(rows).not.to.contain(`<td>${l.code}</td>`);
  });
});
