/**
 * The dashboard against a real MariaDB: messages made through the message
 * store, then moved to their outcomes, show per day by channel and status in
 * the chart and its table, with the delivery rate, failures by reason, the
 * queue's depth and the next scheduled runs.
 */
import { expect } from 'chai';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import type { TestClock } from '../support/sidecar';
import { toDbTime } from '../../sidecar/db';
import type { Running } from '../../sidecar/serve';
import { chartBars, dashboardFigures } from '../../sidecar/web/pages/dashboard';
import type { NewMessage } from '../../sidecar/queue';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`the dashboard (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let clock: TestClock;
  const n: Record<string, number> = {};
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const as = (who: string) => StaffSession.launch(running.server, running.services.settings.secret, n[who], now());

  before(async () => {
    sidecar = await startStaffSidecar('web_dashboard', {
      desk: { userid: 'desk', surname: 'Disk', modules: ['catalogue', 'circulate'], branchcode: 'CPL', categorycode: 'PT' },
      rules: { userid: 'rules', surname: 'Regler', modules: ['catalogue', 'parameters'], branchcode: 'CPL', categorycode: 'PT' },
    });
    ({ db, lib, running, clock } = sidecar);
    Object.assign(n, sidecar.n);
    // Ten messages: made through the store, then given their outcome and day.
    const plan: Array<[string, 'email' | 'sms' | 'print', string, string | null]> = [
      ['2026-11-24', 'email', 'sent', null],
      ['2026-11-24', 'email', 'delivered', null],
      ['2026-11-24', 'sms', 'failed', 'SMSC: invalid destination'],
      ['2026-11-23', 'sms', 'failed', 'SMSC: invalid destination'],
      ['2026-11-23', 'email', 'failed', '550 mailbox unavailable'],
      ['2026-11-23', 'print', 'sent', null],
      ['2026-11-20', 'email', 'pending', null],
      ['2026-11-20', 'sms', 'held', null],
      ['2026-10-01', 'email', 'sent', null],
      ['2026-11-24', 'email', 'proposed', null],
    ];
    const messages: NewMessage[] = plan.map(([, channel], i) => ({
      idempotencyKey: `dash-${i}`,
      messageType: 'overdue',
      level: 1,
      borrowernumber: lib.patrons.asa,
      branchcode: 'CPL',
      channel,
      status: 'pending',
      to: channel === 'email' ? 'asa.oberg@example.org' : channel === 'sms' ? '+46701234567' : 'Ängsvägen 3',
      from: 'central@bibliotek.example.org',
      lang: 'sv',
      subject: 'Försenat',
      text: 'Hej',
      html: null,
      fee: 0,
      runId: null,
      ruleId: null,
      items: [],
    }));
    await running.services.store.insertMessages(messages, clock.now(), 'test');
    for (const [i, [day, , status, reason]] of plan.entries()) {
      await db
        .knex('kmc_messages')
        .where({ idempotency_key: `dash-${i}` })
        .update({ status, status_reason: reason, created_at: `${day} 10:00:00.000` });
    }
  });

  after(async () => {
    await sidecar.stop();
  });

  it('counts per day by channel and status, the rate, failures and the queue', async () => {
    const f = await dashboardFigures(running.services.store, clock.now(), 'Europe/Stockholm');
    expect(f.days).to.have.length(30);
    expect(f.days[29]).to.deep.include({ day: '2026-11-24', total: 4 });
    expect(f.days[29].byChannel).to.deep.equal({ email: 3, sms: 1, print: 0 });
    expect(f.days[28].byStatus).to.deep.equal({ failed: 2, sent: 1 });
    expect(f.days.reduce((s, d) => s + d.total, 0)).to.equal(9); // the October message is older than 30 days
    expect([f.done, f.failed]).to.deep.equal([3, 3]); // the October "sent" is out of range
    expect(f.failures).to.deep.equal([
      { reason: 'SMSC: invalid destination', n: 2 },
      { reason: '550 mailbox unavailable', n: 1 },
    ]);
    expect(f.queueTotal).to.equal(3);
    const chart = chartBars(f.days);
    expect(chart.max).to.equal(4);
    expect(chart.bars.filter((b) => b.day === '2026-11-24').map((b) => [b.channel, b.height])).to.deep.equal([
      ['email', 120],
      ['sms', 40],
    ]);
  });

  it('shows the page with the chart, its table, the rate, failures and the next runs', async () => {
    const desk = await as('desk');
    const page = await desk.get('/dashboard');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('<svg class="chart" role="group"');
    // A scale, dates on the axis, and every day's figures for hover (title) and focus (a focusable, labelled column).
    expect(page.text).to.match(/<text x="30" y="\d+" text-anchor="end">4<\/text>/);
    expect(page.text).to.contain('>24 Nov</text>');
    expect(page.text).to.contain(
      '<g class="chart-day" tabindex="0" role="img" aria-label="Tue 24 November: E-mail 3, SMS 1, Letter 0; 4 in all" data-day="2026-11-24">',
    );
    expect(page.text).to.contain('<title>Tue 24 November: E-mail 3, SMS 1, Letter 0; 4 in all</title>');
    expect(page.text).to.match(/<th scope="row">2026-11-24<\/th><td>3<\/td><td>1<\/td><td>0<\/td>/);
    expect(page.text).to.contain('<strong>50.0 %</strong>');
    expect(page.text).to.contain('<td>SMSC: invalid destination</td><td>2</td>');
    // Waiting to be sent: proposed, held, pending; the message queue: the three failed ones.
    expect(page.text).to.match(/id="waiting-depth"><strong>3<\/strong>/);
    expect(page.text).to.match(/id="queue-depth"><strong>3<\/strong>/);
    // Staff without the routines permission see no link. The shipped overdue routine runs "30 6 * * *" in Stockholm: 10:00 UTC on the 24th is past it, so the 25th.
    expect(page.text).to.match(/<td>Overdue notices<\/td><td>Overdue notice<\/td><td>2026-11-25 06:30<\/td>/);
  });

  it("the dashboard's queue figure is the queue page's count", async () => {
    const desk = await as('desk');
    const figure = async () => {
      const dashboard = (await desk.get('/dashboard')).text;
      const queue = (await desk.get('/queue')).text;
      return {
        dashboard: Number(/id="queue-depth"><strong>(\d+)<\/strong>/.exec(dashboard)?.[1]),
        queue: Number(/<p role="status">(\d+) message\(s\) to deal with\.<\/p>/.exec(queue)?.[1]),
      };
    };
    expect(await figure()).to.deep.equal({ dashboard: 3, queue: 3 });
    // A message without an address joins the queue, and both say so; one staff dealt with leaves both.
    await db.knex('kmc_messages').where({ idempotency_key: 'dash-6' }).update({ status: 'missing_contact' });
    expect(await figure()).to.deep.equal({ dashboard: 4, queue: 4 });
    const failed = await db.knex('kmc_messages').where({ idempotency_key: 'dash-4' }).first('id');
    await db
      .knex('kmc_queue_handled')
      .insert({ message_id: failed.id, handled_by: n.desk, handled_at: toDbTime(clock.now()), how: 'handled' });
    expect(await figure()).to.deep.equal({ dashboard: 3, queue: 3 });
    await db.knex('kmc_queue_handled').where({ message_id: failed.id }).delete();
    await db.knex('kmc_messages').where({ idempotency_key: 'dash-6' }).update({ status: 'pending' });
  });

  it('answers 403 without the dashboard permission', async () => {
    const rules = await as('rules');
    expect((await rules.get('/dashboard')).status).to.equal(403);
  });

  it('shows a failure reason as text', async () => {
    await db
      .knex('kmc_messages')
      .where({ idempotency_key: 'dash-4' })
      .update({ status_reason: '<img src=x onerror=alert(1)>', created_at: toDbTime(clock.now()) });
    const page = await (await as('desk')).get('/dashboard');
    expect(page.text).to.not.contain('<img src=x');
    expect(page.text).to.contain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it("warns with figures while Koha's own notice jobs still queue overdue, pre-due or hold notices", async () => {
    const desk = await as('desk');
    expect((await desk.get('/dashboard')).text).to.not.contain('id="koha-jobs"');
    await lib.builder.ensureMessageTransportTypes();
    // As Koha's overdue_notices.pl and holds jobs leave them: recent ODUE rows, and rows that do not count.
    const row = (letter_code: string, message_transport_type: string, daysAgo: number) => ({
      borrowernumber: lib.patrons.asa,
      letter_code,
      message_transport_type,
      status: 'sent',
      subject: 'Overdue',
      content: 'Dear patron',
      time_queued: db.knex.raw('NOW() - INTERVAL ? DAY', [daysAgo]),
    });
    await db
      .knex('message_queue')
      .insert([
        row('ODUE', 'email', 1),
        row('ODUE', 'email', 2),
        row('ODUE2', 'sms', 3),
        row('HOLD', 'email', 20),
        row('HOLDPLACED', 'email', 1),
        row('CHECKOUT', 'email', 1),
      ]);
    try {
      const page = await desk.get('/dashboard');
      expect(page.status).to.equal(200);
      const box = /<div class="alert alert-warning" role="alert" id="koha-jobs">([\s\S]*?)<\/div>/.exec(page.text)?.[1] ?? '';
      expect(box).to.contain('<li>ODUE by email: 2</li>').and.contain('<li>ODUE2 by sms: 1</li>');
      expect(box).to.contain(': 3 notices').and.contain('last 7 days').and.contain('overdue_notices.pl');
      expect(box).to.not.contain('HOLD').and.not.contain('CHECKOUT');
    } finally {
      await db.knex('message_queue').del();
    }
  });
});
