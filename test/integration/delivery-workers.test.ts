/**
 * The delivery worker against a real database, SMTP server and SMSC: two
 * workers sharing one queue, a graceful stop, leases that run out, and the
 * queue for staff.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { TestSmsc } from '../support/smsc';
import { migrate } from '../../sidecar/db';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';
import type { NewMessage } from '../../sidecar/queue';

let serial = 0;

function message(channel: 'sms' | 'email' | 'print', over: Partial<NewMessage> = {}): NewMessage {
  serial += 1;
  const to =
    channel === 'sms'
      ? `+4670${String(2_000_000 + serial)}`
      : channel === 'email'
        ? `patron${serial}@example.org`
        : `Patron ${serial}\nStorgatan ${serial}`;
  return {
    idempotencyKey: `test:workers:${serial}:${Math.random().toString(36).slice(2)}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 5000 + serial,
    branchcode: 'CPL',
    channel,
    status: 'pending',
    to,
    from: channel === 'email' ? 'library@example.org' : 'Library',
    lang: 'en',
    subject: `Notice ${serial}`,
    text: `Notice ${serial} for ${channel}`,
    html: null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
    ...over,
  };
}

describe(`the delivery worker (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(30_000);
  let db: ScratchDatabase;
  let smsc: TestSmsc;
  let smtp: MailCapture;
  let clock: TestClock;
  const open: App[] = [];

  const services = async (over: Record<string, string> = {}, workerId?: string): Promise<App> => {
    const s = testServices(
      testSettings(db.url, {
        KMC_SMTP_URL: smtp.url,
        KMC_SMPP_URL: smsc.url,
        KMC_SMPP_PDU_TIMEOUT_MS: '2000',
        KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
        ...over,
      }),
      clock,
      workerId ? { workerId } : {},
    );
    open.push(s);
    await s.startChannels();
    return s;
  };

  const queueSms = (s: App, n: number) =>
    s.store.insertMessages(
      Array.from({ length: n }, () => message('sms')),
      clock.now(),
      'test',
    );

  before(async () => {
    db = await createKohaDatabase('delivworkers');
    await migrate(db.knex);
    smsc = await TestSmsc.start();
    smtp = new MailCapture();
    await smtp.start();
  });

  beforeEach(async () => {
    await db.knex('kmc_message_events').del();
    await db.knex('kmc_messages').del();
    smsc.reset();
    smtp.messages.length = 0;
    clock = new TestClock(new Date('2026-11-24T08:00:00Z'));
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await smtp.stop();
    await smsc.close();
    await db.drop();
  });

  it('two workers on one queue send each message once', async () => {
    const a = await services({ KMC_DELIVERY_BATCH: '20' }, 'worker-a');
    const b = await services({ KMC_DELIVERY_BATCH: '20' }, 'worker-b');
    const messages = [...Array.from({ length: 120 }, () => message('sms')), ...Array.from({ length: 60 }, () => message('email'))];
    await a.store.insertMessages(messages, clock.now(), 'test');
    const [sa, sb] = await Promise.all([a.worker.deliverOnce(), b.worker.deliverOnce()]);

    expect(sa.sent + sb.sent, JSON.stringify({ sa, sb })).to.equal(messages.length);
    expect(sa.claimed + sb.claimed).to.equal(messages.length);
    expect(sa.claimed, 'worker a had a share').to.be.greaterThan(0);
    expect(sb.claimed, `worker b had a share: ${JSON.stringify({ sa, sb })}`).to.be.greaterThan(0);
    for (const m of messages.filter((x) => x.channel === 'sms')) expect(smsc.messagesWithText(m.text), m.text).to.have.length(1);
    for (const m of messages.filter((x) => x.channel === 'email')) {
      expect(
        smtp.messages.filter((c) => c.envelopeTo.includes(m.to!)),
        m.to!,
      ).to.have.length(1);
    }
    const sentEvents: Array<{ message_id: number; n: number }> = await db
      .knex('kmc_message_events')
      .where({ status: 'sent' })
      .groupBy('message_id')
      .select('message_id')
      .count({ n: '*' });
    expect(sentEvents).to.have.length(messages.length);
    expect(sentEvents.every((e) => e.n === 1)).to.equal(true);
    const actors = new Set<string>(await db.knex('kmc_message_events').where({ status: 'sent' }).distinct().pluck('actor'));
    expect([...actors].sort()).to.deep.equal(['worker-a', 'worker-b']);
    expect(await db.knex('kmc_messages').whereNot('status', 'sent').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('keeps the SMPP window full: ten submits in flight at once', async () => {
    const s = await services();
    smsc.setResponseDelay(200);
    await queueSms(s, 30);
    const stats = await s.worker.deliverOnce();
    expect(stats.sent).to.equal(30);
    // Counted by the SMSC as each submit arrives: ten unanswered at once (a full window), never more.
    expect(Math.max(...smsc.submits.map((x) => x.inFlight)), 'the first ten leave together').to.equal(9);
    const times = smsc.submits.map((x) => x.at);
    expect(times[10] - times[0], 'the eleventh waits for a free slot').to.be.at.least(150);
    // Each submit goes on the wire at once: with Nagle's algorithm the other nine waited for the SMSC to acknowledge the first (40 ms).
    expect(times[9] - times[0], `the ten leave together: ${JSON.stringify(times.slice(0, 10))}`).to.be.below(30);
  });

  it('stores the outcomes of a window that answers together with one commit', async () => {
    const s = await services();
    // One SMS first, so the SMSC connection is open and the windows leave whole.
    await queueSms(s, 1);
    expect((await s.worker.deliverOnce()).sent).to.equal(1);
    smsc.reset();
    smsc.setResponseDelay(200);
    // The real store, counting the groups of outcomes handed to it.
    const groups: number[] = [];
    const completeMany = s.store.completeMany.bind(s.store);
    s.store.completeMany = (workerId, changes) => {
      groups.push(changes.length);
      return completeMany(workerId, changes);
    };
    await queueSms(s, 30);
    const stats = await s.worker.deliverOnce();
    expect(stats.sent).to.equal(30);
    // Three windows of ten, each answered after the same 200 ms: one group each (a busy machine may split one), not one for
    // the first answer and one for the rest.
    expect(groups.reduce((a, b) => a + b, 0)).to.equal(30);
    expect(groups.length, JSON.stringify(groups)).to.be.at.most(4);
    expect(await db.knex('kmc_messages').where('status', 'sent').count({ n: '*' }).first()).to.deep.equal({ n: 31 });
  });

  it('a graceful stop sends nothing new, finishes what is in flight, and puts the rest back at once', async () => {
    const s = await services({ KMC_DELIVERY_BATCH: '50' });
    smsc.setResponseDelay(300);
    const messages = Array.from({ length: 40 }, () => message('sms'));
    const ids = (await s.store.insertMessages(messages, clock.now(), 'test')).ids;
    const delivering = s.worker.deliverOnce();
    await smsc.waitFor(() => smsc.submits.length >= 10, 5_000, 'a full window in flight');
    const stopAt = smsc.submits.length;
    await s.worker.stop();
    const stats = await delivering;

    const rows = await db.knex('kmc_messages').whereIn('id', ids).select('id', 'status', 'attempts', 'body_text');
    const byStatus = (st: string) => rows.filter((r) => r.status === st);
    expect(byStatus('sending'), 'nothing is left in sending').to.have.length(0);
    expect(byStatus('sent').length).to.equal(stopAt);
    expect(stats.sent).to.equal(stopAt);
    expect(byStatus('pending').length)
      .to.equal(messages.length - stopAt)
      .and.to.be.greaterThan(0);
    expect(smsc.submits, 'nothing new left after stop').to.have.length(stopAt);
    for (const r of byStatus('sent')) expect(smsc.messagesWithText(r.body_text), r.body_text).to.have.length(1);
    for (const r of byStatus('pending')) {
      expect(smsc.messagesWithText(r.body_text)).to.have.length(0);
      expect(r.attempts, 'the unused claim is not counted as an attempt').to.equal(0);
      const last = await db.knex('kmc_message_events').where({ message_id: r.id }).orderBy('id', 'desc').first();
      expect(last).to.include({ status: 'pending', detail: 'returned to the queue unsent: the worker is stopping' });
    }

    // Another worker takes the rest straight away, without waiting for a lease.
    const next = await services();
    smsc.setResponseDelay(0);
    expect(await next.worker.deliverOnce()).to.include({ sent: messages.length - stopAt });
    for (const m of messages) expect(smsc.messagesWithText(m.text), m.text).to.have.length(1);
  });

  it('messages a dead worker left in sending come back once their lease has run out', async () => {
    const s = await services();
    const ids = (await s.store.insertMessages([message('sms'), message('email'), message('print')], clock.now(), 'test')).ids;
    const claimed = await s.store.claimDue({
      channels: ['sms', 'email', 'print'],
      limit: 10,
      workerId: 'dead-worker',
      leaseMs: 5 * 60_000,
      now: clock.now(),
    });
    expect(claimed).to.have.length(3);

    expect(await s.worker.deliverOnce(), 'the lease still holds').to.include({ claimed: 0 });
    clock.advance(5 * 60_000 + 1);
    const stats = await s.worker.deliverOnce();
    expect(stats).to.include({ claimed: 3, sent: 3 });
    for (const [i, id] of ids.entries()) {
      const history = await s.store.events(id);
      // A letter handed to the printer waits for staff to confirm it printed.
      const handedOver = i === 2 ? 'to_print' : 'sent';
      expect(history.map((e) => e.status)).to.deep.equal(['pending', 'sending', 'pending', 'sending', handedOver]);
      expect(history[2].detail).to.match(/^lease expired/);
    }
    // The dead worker's late answer cannot overwrite what happened since.
    expect(await s.store.complete(ids[0], 'dead-worker', { status: 'failed', detail: 'too late', at: clock.now() })).to.equal(false);
    expect((await s.store.get(ids[0]))!.status).to.equal('sent');
  });

  it('a group of outcomes in which one claim was lost records the others and leaves that one to its new worker', async () => {
    const s = await services();
    const ids = (await s.store.insertMessages([message('sms'), message('sms'), message('sms')], clock.now(), 'test')).ids;
    const claim = (workerId: string, limit: number, leaseMs: number) =>
      s.store.claimDue({ channels: ['sms'], limit, workerId, leaseMs, now: clock.now() });
    const [first] = await claim('slow-worker', 1, 1000);
    const rest = await claim('slow-worker', 2, 600_000);
    expect([first, ...rest].map((r) => r.id)).to.deep.equal(ids);
    // The first one's lease runs out and another worker takes it while the slow one is still sending.
    clock.advance(1001);
    expect(await s.store.releaseExpiredLeases(clock.now(), 'test')).to.equal(1);
    expect((await claim('next-worker', 1, 600_000)).map((r) => r.id)).to.deep.equal([ids[0]]);

    const at = clock.now();
    const recorded = await s.store.completeMany(
      'slow-worker',
      [first, ...rest].map((r, i) => ({
        id: r.id,
        status: 'sent' as const,
        detail: 'accepted',
        at,
        channel: 'sms' as const,
        providerId: `slow-${String(i)}`,
        providerAccount: 'acct',
        claimedAt: new Date(`${r.updated_at.replace(' ', 'T')}Z`),
      })),
    );
    expect(recorded).to.deep.equal([false, true, true]);
    expect(await s.store.get(ids[0])).to.include({ status: 'sending', claimed_by: 'next-worker', provider_id: null });
    expect((await s.store.events(ids[0])).filter((e) => e.status === 'sent')).to.have.length(0);
    for (const id of ids.slice(1)) {
      expect(await s.store.get(id)).to.include({ status: 'sent', claimed_by: null });
      expect((await s.store.events(id)).map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent']);
    }
  });

  it('a group of different outcomes gives each message its own values, and the write makes no temporary table', async () => {
    const s = await services();
    const ids = (
      await s.store.insertMessages(
        [message('sms'), message('sms'), message('email'), message('email'), message('print')],
        clock.now(),
        'test',
      )
    ).ids;
    // The second e-mail was sent once before (staff sent it again): its first send stays.
    await db.knex('kmc_messages').where({ id: ids[3] }).update({ first_sent_at: '2026-11-20 10:00:00.000', provider_id: 'earlier' });
    const claimed = await s.store.claimDue({
      channels: ['sms', 'email', 'print'],
      limit: 5,
      workerId: 'w1',
      leaseMs: 600_000,
      now: clock.now(),
    });
    expect(claimed.map((r) => r.id)).to.deep.equal(ids);
    clock.advance(1500);
    const at = clock.now();
    const retryAt = new Date(at.getTime() + 60_000);
    const claimedAt = (i: number) => new Date(`${claimed[i].updated_at.replace(' ', 'T')}Z`);
    // Each statement raises the server's count of temporary tables; SHOW STATUS makes some itself, counted first.
    const tmpTables = async () => {
      const [rows] = (await db.knex.raw("SHOW GLOBAL STATUS WHERE Variable_name IN ('Created_tmp_tables', 'Created_tmp_disk_tables')")) as [
        Array<{ Variable_name: string; Value: string }>,
      ];
      return rows.map((r) => `${r.Variable_name}=${r.Value}`);
    };
    const delta = (a: string[], b: string[]) => a.map((x, i) => Number(b[i].split('=')[1]) - Number(x.split('=')[1]));
    const calibrate = [await tmpTables(), await tmpTables()];
    const before = await tmpTables();
    const recorded = await s.store.completeMany('w1', [
      {
        id: ids[0],
        status: 'sent',
        detail: 'accepted',
        at,
        channel: 'sms',
        providerId: 'p-0',
        providerAccount: 'acct',
        reply: 'ok 0',
        claimedAt: claimedAt(0),
      },
      {
        id: ids[1],
        status: 'pending',
        detail: 'throttled',
        at,
        channel: 'sms',
        reason: 'SMPP_THROTTLED: later',
        reply: 'busy',
        nextAttemptAt: retryAt,
        claimedAt: claimedAt(1),
      },
      {
        id: ids[2],
        status: 'failed',
        detail: 'refused',
        at,
        channel: 'email',
        reason: 'SMTP_550: no such user',
        reply: '550 no such user',
        claimedAt: claimedAt(2),
      },
      { id: ids[3], status: 'sent', detail: 'accepted', at, channel: 'email', reply: '250 queued', claimedAt: claimedAt(3) },
      {
        id: ids[4],
        status: 'to_print',
        detail: 'in the print folder',
        at,
        channel: 'print',
        reply: 'letters-1.pdf',
        claimedAt: claimedAt(4),
      },
    ]);
    const after = await tmpTables();
    expect(recorded).to.deep.equal([true, true, true, true, true]);
    expect(delta(before, after), 'temporary tables made by the write').to.deep.equal(delta(calibrate[0], calibrate[1]));

    const rows = await db.knex('kmc_messages').whereIn('id', ids).orderBy('id');
    const when = '2026-11-24 08:00:01.500';
    const pick = (r: Record<string, unknown>) => ({
      status: r.status,
      status_reason: r.status_reason,
      last_reply: r.last_reply,
      provider_id: r.provider_id,
      provider_account: r.provider_account,
      next_attempt_at: r.next_attempt_at,
      first_sent_at: r.first_sent_at,
      updated_at: r.updated_at,
      claimed_by: r.claimed_by,
      lease_until: r.lease_until,
    });
    const common = { claimed_by: null, lease_until: null, updated_at: when };
    expect(rows.map(pick)).to.deep.equal([
      {
        ...common,
        status: 'sent',
        status_reason: null,
        last_reply: 'ok 0',
        provider_id: 'p-0',
        provider_account: 'acct',
        next_attempt_at: null,
        first_sent_at: when,
      },
      {
        ...common,
        status: 'pending',
        status_reason: 'SMPP_THROTTLED: later',
        last_reply: 'busy',
        provider_id: null,
        provider_account: null,
        next_attempt_at: '2026-11-24 08:01:01.500',
        first_sent_at: null,
      },
      {
        ...common,
        status: 'failed',
        status_reason: 'SMTP_550: no such user',
        last_reply: '550 no such user',
        provider_id: null,
        provider_account: null,
        next_attempt_at: null,
        first_sent_at: null,
      },
      {
        ...common,
        status: 'sent',
        status_reason: null,
        last_reply: '250 queued',
        provider_id: 'earlier',
        provider_account: null,
        next_attempt_at: null,
        first_sent_at: '2026-11-20 10:00:00.000',
      },
      {
        ...common,
        status: 'to_print',
        status_reason: null,
        last_reply: 'letters-1.pdf',
        provider_id: null,
        provider_account: null,
        next_attempt_at: null,
        first_sent_at: when,
      },
    ]);
  });

  it("an e-mail's Message-ID is stored by its claim, before the first attempt, and every later attempt carries it", async () => {
    const s = await services();
    const [email, text] = (await s.store.insertMessages([message('email'), message('sms')], clock.now(), 'test')).ids;
    const [claimedEmail, claimedSms] = await s.store.claimDue({
      channels: ['email', 'sms'],
      limit: 10,
      workerId: 'dead-worker',
      leaseMs: 60_000,
      now: clock.now(),
    });
    expect(claimedEmail.id).to.equal(email);
    const header = claimedEmail.message_id_header;
    expect(header).to.match(new RegExp(`^<kmc\\.${String(email)}\\.[0-9a-f]{12}@example\\.org>$`));
    expect((await s.store.get(email))!.message_id_header, 'stored with the claim').to.equal(header);
    expect(claimedSms.message_id_header, 'an SMS has none').to.equal(null);
    expect((await s.store.get(text))!.message_id_header).to.equal(null);

    // The claimer dies; the next worker's attempt (and a staff retry after it) keeps the same one.
    clock.advance(60_001);
    smtp.respond = () => ({ action: 'reply', code: 451, message: '4.3.0 busy' });
    try {
      expect(await s.worker.deliverOnce()).to.include({ retried: 1 });
    } finally {
      smtp.respond = undefined;
    }
    expect((await s.store.get(email))!.message_id_header).to.equal(header);
    clock.advance(3600_000);
    expect(await s.worker.deliverOnce()).to.include({ sent: 1 });
    const got = smtp.messages.filter((m) => m.parsed.headers.get('x-kmc-message') === String(email));
    expect(got).to.have.length(1);
    expect(got[0].parsed.messageId).to.equal(header);
    expect((await s.store.get(email))!.message_id_header).to.equal(header);
  });

  it('retry budgets are settings per channel', async () => {
    const s = await services({ KMC_RETRY_EMAIL_ATTEMPTS: '2', KMC_RETRY_FIRST_SECONDS: '10' });
    smtp.respond = () => ({ action: 'reply', code: 451, message: '4.3.0 busy' });
    try {
      const [id] = (await s.store.insertMessages([message('email')], clock.now(), 'test')).ids;
      expect(await s.worker.deliverOnce()).to.include({ retried: 1 });
      const waiting = (await s.store.get(id))!;
      const wait = new Date(waiting.next_attempt_at!.replace(' ', 'T') + 'Z').getTime() - clock.now().getTime();
      expect(wait).to.be.within(7_500, 12_500);
      clock.advance(60_000);
      expect(await s.worker.deliverOnce()).to.include({ failed: 1 });
      expect((await s.store.get(id))!.status_reason).to.match(/^SMTP_451: retry budget of 2 attempts spent; last: 451/);
    } finally {
      smtp.respond = undefined;
    }
  });

  it('the queue for staff lists failed and missing-contact messages, newest first, a page at a time', async () => {
    const s = await services();
    const made = await s.store.insertMessages(
      [
        message('email', { status: 'missing_contact', statusReason: 'email: no e-mail address', to: null, branchcode: 'CPL' }),
        message('sms', { to: '+46709990001', branchcode: 'HAF' }),
        message('email', { status: 'missing_contact', statusReason: 'email: no e-mail address', to: null, branchcode: 'HAF' }),
        message('sms', { to: '+46709990002', branchcode: 'CPL' }),
        message('email'),
      ],
      clock.now(),
      'test',
    );
    smsc.refuseDestination('+46709990001');
    smsc.refuseDestination('+46709990002');
    await s.worker.deliverOnce();
    const [miss1, fail1, miss2, fail2, ok] = made.ids;

    const first = await s.store.queue({ statuses: ['failed', 'missing_contact'], limit: 3 });
    expect(first.total).to.equal(4);
    expect(first.messages.map((m) => m.id)).to.deep.equal([fail2, miss2, fail1]);
    const second = await s.store.queue({ statuses: ['failed', 'missing_contact'], limit: 3, beforeId: first.nextBeforeId });
    expect(second.messages.map((m) => m.id)).to.deep.equal([miss1]);
    expect(second.nextBeforeId).to.equal(null);

    const haf = await s.store.queue({ statuses: ['failed', 'missing_contact'], branchcode: 'HAF' });
    expect(haf.messages.map((m) => m.id)).to.deep.equal([miss2, fail1]);
    const failedSms = await s.store.queue({ statuses: ['failed'], channel: 'sms' });
    expect(failedSms.messages.map((m) => m.id)).to.deep.equal([fail2, fail1]);
    expect(failedSms.messages[0].status_reason).to.match(/^SMPP_INVALID_DESTINATION/);
    expect((await s.store.get(ok))!.status).to.equal('sent');
    expect(await s.store.queue({ statuses: [] })).to.deep.equal({ messages: [], total: 0, nextBeforeId: null });
  });
});
