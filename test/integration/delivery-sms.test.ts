/**
 * SMS through the whole delivery pipeline: messages in the queue table, the
 * worker, the SMS router composed by the composition root, the SMPP client,
 * and a real SMSC (the `smpp` package's server) over loopback.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { TestSmsc, type ReceivedSms } from '../support/smsc';
import { migrate } from '../../sidecar/db';
import type { App } from '../../sidecar/main';
import type { MessageRow, NewMessage } from '../../sidecar/queue';
import { SmsRouter, branchSettingsSource } from '../../sidecar/channels/sms';
import { SmppStatus } from '../../sidecar/channels/smpp';
import { smsMessage as sms, until } from './delivery-support';

const HOUR = 3600_000;
describe(`SMS through the delivery pipeline (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(30_000);
  let db: ScratchDatabase;
  let smsc: TestSmsc;
  let onAccepted: ((m: ReceivedSms) => void) | null = null;
  let clock: TestClock;
  let kmc: App;
  const extra: Array<{ close(): Promise<void> }> = [];

  const settings = (over: Record<string, string> = {}) =>
    testSettings(db.url, {
      KMC_SMPP_URL: smsc.url,
      KMC_SMPP_PDU_TIMEOUT_MS: '1000',
      KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
      KMC_SMS_SENDER: 'KohaLib',
      KMC_RETRY_SMS_ATTEMPTS: '4',
      ...over,
    });

  const insert = async (messages: NewMessage[]): Promise<number[]> => (await kmc.store.insertMessages(messages, clock.now(), 'test')).ids;
  const row = async (id: number): Promise<MessageRow> => (await kmc.store.get(id))!;
  const events = async (id: number) => kmc.store.events(id);

  before(async () => {
    db = await createKohaDatabase('delivsms');
    await migrate(db.knex);
    smsc = await TestSmsc.start({ onMessage: (m) => onAccepted?.(m) });
  });

  beforeEach(async () => {
    await db.knex('kmc_sms_receipts').del();
    await db.knex('kmc_message_events').del();
    await db.knex('kmc_messages').del();
    await db.knex('kmc_branch_settings').del();
    smsc.reset();
    onAccepted = null;
    clock = new TestClock(new Date('2026-11-24T08:00:00Z'));
    kmc = testServices(settings(), clock);
    await kmc.startChannels();
  });

  afterEach(async () => {
    await kmc.close();
    await Promise.all(extra.splice(0).map((x) => x.close()));
  });

  after(async () => {
    await smsc.close();
    await db.drop();
  });

  it('is composed from KMC_SMPP_URL: the SMS channel is the branch router, bound once at start', () => {
    expect(kmc.sms).to.be.instanceOf(SmsRouter);
    expect(kmc.adapters.sms).to.equal(kmc.sms);
    expect(smsc.binds.filter((b) => b.status === 0)).to.have.length(1);
    expect(smsc.binds[0]).to.include({ mode: 'transceiver', systemId: 'kmc' });
  });

  it('refuses to start with credentials the SMSC rejects; an SMSC that is away only delays the messages', async () => {
    await kmc.close();
    const wrong = testServices(settings({ KMC_SMPP_URL: smsc.urlWith('kmc', 'wrong-password') }), clock);
    try {
      let refused: unknown = null;
      await wrong.startChannels().catch((err: unknown) => (refused = err));
      expect(refused, 'start fails').to.not.equal(null);
      expect(refused).to.have.property('code', 'SMPP_BIND_REJECTED');
      expect(refused).to.have.property('message').that.contains('system_id "kmc"').and.not.contain('wrong-password');
    } finally {
      await wrong.close();
    }

    const probe = await TestSmsc.start();
    const away = probe.url;
    await probe.close();
    kmc = testServices(settings({ KMC_SMPP_URL: away }), clock);
    await kmc.startChannels();
    const [id] = await insert([sms('Waiting for the SMSC')]);
    expect(await kmc.worker.deliverOnce()).to.include({ retried: 1, failed: 0 });
    const r = await row(id);
    expect(r.status).to.equal('pending');
    expect(r.status_reason).to.match(/^SMPP_CONNECT_FAILED: SMS account kmc@127\.0\.0\.1:\d+ is not bound/);
  });

  it('sends every encoding end to end with the right number of parts, and the SMSC decodes the text back exactly', async () => {
    const cases: Array<[string, string, number, 0 | 8]> = [
      ['plain GSM', 'Hello Åsa, "Röda rummet" is due on 2026-11-30. Centralbiblioteket', 1, 0],
      ['GSM with € and [', 'Fee 12€ [card 1234] {main} ~ ^ \\ | please pay', 1, 0],
      ['emoji', 'Your books are waiting 📚😀 pick them up soon', 1, 8],
      ['Cyrillic', 'Ваша книга готова к выдаче', 1, 8],
      ['160 GSM', 'a'.repeat(160), 1, 0],
      ['161 GSM', 'b'.repeat(161), 2, 0],
      ['306 GSM', 'c'.repeat(306), 2, 0],
      ['307 GSM', 'd'.repeat(307), 3, 0],
      ['80 € (160 septets)', '€'.repeat(80), 1, 0],
      ['80 € and one more', '€'.repeat(80) + 'e', 2, 0],
      ['70 UCS-2', 'Ж'.repeat(70), 1, 8],
      ['71 UCS-2', 'Щ'.repeat(71), 2, 8],
    ];
    const ids = await insert(cases.map(([, text]) => sms(text)));
    const stats = await kmc.worker.deliverOnce();
    expect(stats).to.include({ sent: cases.length, failed: 0, retried: 0 });
    for (const [i, [label, text, parts, dataCoding]] of cases.entries()) {
      const got = smsc.messagesWithText(text);
      expect(got, label).to.have.length(1);
      expect(got[0].parts, label).to.have.length(parts);
      expect(got[0].dataCoding, label).to.equal(dataCoding);
      expect(got[0]).to.include({ from: 'KohaLib', sourceTon: 5 });
      for (const p of got[0].parts) expect(p.decodeError, label).to.equal(undefined);
      const r = await row(ids[i]);
      expect(r.status, label).to.equal('sent');
      expect(r.provider_id, label).to.equal(got[0].messageIds[parts - 1]);
      expect(r.provider_account).to.equal(`kmc@127.0.0.1:${smsc.port}`);
    }
    expect(smsc.submits).to.have.length(cases.reduce((n, c) => n + c[2], 0));
  });

  it('moves messages by delivery receipts in TLV and in text form, and keeps each step in the history', async () => {
    const [tlv, text, both] = await insert([sms('Receipt by TLV'), sms('Receipt by text'), sms('Receipt in both forms')]);
    await kmc.worker.deliverOnce();
    const id = async (m: number) => (await row(m)).provider_id as string;
    expect(await smsc.sendReceipt(await id(tlv), { form: 'tlv', stat: 'DELIVRD' })).to.equal(0);
    expect(await smsc.sendReceipt(await id(text), { form: 'text', stat: 'UNDELIV', err: '001' })).to.equal(0);
    expect(await smsc.sendReceipt(await id(both), { form: 'both', stat: 'EXPIRED', err: '027' })).to.equal(0);
    // An intermediate report and a receipt offered twice change nothing.
    expect(await smsc.sendReceipt(await id(tlv), { form: 'text', stat: 'DELIVRD' })).to.equal(0);

    expect((await row(tlv)).status).to.equal('delivered');
    const undelivered = await row(text);
    expect(undelivered.status).to.equal('bounced');
    expect(undelivered.status_reason).to.equal('SMS_NOT_DELIVERED: the SMSC reports UNDELIV (err 001)');
    expect((await row(both)).status).to.equal('bounced');
    expect((await events(tlv)).map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent', 'delivered']);
    expect((await events(tlv))[3].detail).to.equal('delivery receipt: DELIVRD');
    expect((await events(both))[3].detail).to.equal('delivery receipt: EXPIRED (err 027)');

    const queue = await kmc.store.queue({ statuses: ['bounced', 'failed', 'missing_contact'] });
    expect(queue.messages.map((m) => m.id).sort()).to.deep.equal([text, both].sort());
    expect(queue.total).to.equal(2);
  });

  it('a receipt that arrives before `sent` is stored is kept and applied when it is', async () => {
    // The SMSC sends the receipt at once and answers the submit 300 ms later.
    smsc.setResponseDelay(300);
    onAccepted = (m) => void smsc.sendReceipt(m.messageIds[m.messageIds.length - 1], { form: 'text', stat: 'DELIVRD' });
    const [id] = await insert([sms('Receipt before the answer')]);
    const delivering = kmc.worker.deliverOnce();
    await until('the early receipt to be kept', async () => (await kmc.store.waitingReceipts()).length === 1);
    expect((await row(id)).status).to.equal('sending');
    await delivering;
    const r = await row(id);
    expect(r.status).to.equal('delivered');
    expect((await events(id)).map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent', 'delivered']);
    expect(await kmc.store.waitingReceipts()).to.have.length(0);
    const kept = await db.knex('kmc_sms_receipts').first();
    expect(kept).to.include({ provider_id: r.provider_id, message_id: id, stat: 'DELIVRD' });
    expect(kept.applied_at).to.be.a('string');
  });

  it('a receipt for a message that is not ours is kept, not lost and not applied to another message', async () => {
    const [id] = await insert([sms('Ours')]);
    await kmc.worker.deliverOnce();
    const result = await kmc.store.recordReceipt(
      { providerId: 'NOT-OURS-1', state: 'delivered', stat: 'DELIVRD', account: `kmc@127.0.0.1:${smsc.port}` },
      clock.now(),
    );
    expect(result).to.deep.equal({ result: 'kept', messageId: null, status: null });
    expect((await row(id)).status).to.equal('sent');
    expect((await kmc.store.waitingReceipts()).map((r) => r.provider_id)).to.deep.equal(['NOT-OURS-1']);
  });

  it('slows down for a throttling SMSC; every message ends sent exactly once', async () => {
    await kmc.close();
    // A router with short pauses and one resubmit per throttled PDU, so some messages go back to the queue.
    const router = new SmsRouter({
      defaultUrl: smsc.url,
      defaultSender: 'KohaLib',
      client: { pduTimeoutMs: 1_000, enquireLinkMs: 0, throttle: { minMs: 100, maxMs: 400 }, throttleRetries: 1 },
      accounts: branchSettingsSource(db.knex),
    });
    kmc = testServices(settings(), clock, { adapters: { sms: router } });
    await kmc.startChannels();
    const texts = Array.from({ length: 20 }, (_, i) => `Throttled notice ${i + 1}`);
    const ids = await insert(texts.map((t) => sms(t)));
    smsc.throttleNext(4);
    const first = await kmc.worker.deliverOnce();
    expect(first.sent + first.retried).to.equal(20);
    expect(first.failed).to.equal(0);
    const throttled = smsc.submits.filter((s) => s.status === SmppStatus.RTHROTTLED);
    expect(throttled).to.have.length(4);
    // After a refusal the client pauses (100 ms here): only submits already on their way arrive meanwhile.
    const refusedAt = throttled[0].at;
    expect(smsc.submits.filter((s) => s.at > refusedAt + 30 && s.at < refusedAt + 90)).to.have.length(0);
    expect(smsc.submits[smsc.submits.length - 1].at - refusedAt).to.be.at.least(90);
    expect(router.adapterFor(smsc.url)!.client.stats.throttled).to.equal(4);

    clock.advance(HOUR);
    await kmc.worker.deliverOnce();
    for (const [i, id] of ids.entries()) {
      expect((await row(id)).status, texts[i]).to.equal('sent');
      expect(smsc.messagesWithText(texts[i]), texts[i]).to.have.length(1);
      expect(
        (await events(id)).filter((e) => e.status === 'sent'),
        texts[i],
      ).to.have.length(1);
    }
    if (first.retried) {
      const retriedEvents = await db.knex('kmc_message_events').where('detail', 'like', 'SMPP_THROTTLED%');
      expect(retriedEvents).to.have.length(first.retried);
    }
  });

  it('an SMSC that drops the connection mid-window: every message ends sent exactly once; only the cut-off submit reached the SMSC twice', async () => {
    const texts = Array.from({ length: 30 }, (_, i) => `Window notice ${i + 1}`);
    const ids = await insert(texts.map((t) => sms(t)));
    smsc.dropAfterSubmits(5);
    const first = await kmc.worker.deliverOnce();
    expect(first.failed).to.equal(0);
    expect(first.retried).to.be.at.least(1);
    const cutOff = smsc.submits.filter((s) => !s.answered && s.status === 0);
    expect(cutOff).to.have.length(1);

    // Later (the backoff is on the test clock), once bound again, the worker finishes the queue.
    await until('the SMS account to bind again', () => smsc.boundSessions === 1, 5_000);
    for (let round = 0; round < 5; round += 1) {
      const pending = await db.knex('kmc_messages').whereIn('id', ids).whereNot('status', 'sent').count({ n: '*' }).first();
      if (Number(pending?.n) === 0) break;
      clock.advance(HOUR);
      await kmc.worker.deliverOnce();
    }
    for (const [i, id] of ids.entries()) {
      const r = await row(id);
      expect(r.status, texts[i]).to.equal('sent');
      const history = await events(id);
      expect(
        history.filter((e) => e.status === 'sent'),
        texts[i],
      ).to.have.length(1);
      const seen = smsc.messagesWithText(texts[i]).length;
      if (texts[i] === cutOff[0].text) {
        expect(seen, texts[i]).to.equal(2);
        expect(
          history.some((e) => e.status === 'pending' && (e.detail ?? '').startsWith('maybe delivered')),
          'the retry says it may have been delivered',
        ).to.equal(true);
        expect(history.find((e) => (e.detail ?? '').startsWith('maybe delivered'))!.detail).to.contain('SMPP_CONNECTION_LOST');
      } else {
        expect(seen, texts[i]).to.equal(1);
      }
    }
  });

  it('an unanswered submit is retried and its history says it may have been delivered', async () => {
    const [id] = await insert([sms('Into the void')]);
    smsc.ignoreNextSubmits(1);
    const first = await kmc.worker.deliverOnce();
    expect(first.retried).to.equal(1);
    const retry = (await events(id)).find((e) => e.status === 'pending' && e.detail?.includes('SMPP_TIMEOUT'))!;
    expect(retry.detail).to.match(/^maybe delivered .*SMPP_TIMEOUT: no submit_sm_resp/);
    clock.advance(HOUR);
    await kmc.worker.deliverOnce();
    expect((await row(id)).status).to.equal('sent');
    expect(smsc.messagesWithText('Into the void')).to.have.length(2);
  });

  it('spends the retry budget, then fails with the last reason and shows in the queue for staff', async () => {
    const [id] = await insert([sms('SMSC keeps failing', { to: '+46709999999' })]);
    smsc.refuseDestination('+46709999999', SmppStatus.RSYSERR);
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const stats = await kmc.worker.deliverOnce();
      expect(stats.claimed, `attempt ${attempt}`).to.equal(1);
      clock.advance(24 * HOUR);
    }
    const r = await row(id);
    expect(r.status).to.equal('failed');
    expect(r.attempts).to.equal(4);
    expect(r.status_reason).to.match(/^SMPP_SYSTEM_ERROR: retry budget of 4 attempts spent; last: SMSC answered ESME_RSYSERR/);
    const waits = (await events(id)).filter((e) => e.status === 'pending' && e.detail?.startsWith('SMPP_SYSTEM_ERROR'));
    expect(waits).to.have.length(3);
    const page = await kmc.store.queue({ statuses: ['failed', 'missing_contact'], channel: 'sms' });
    expect(page.messages.map((m) => m.id)).to.deep.equal([id]);
    expect(page.messages[0].status_reason).to.equal(r.status_reason);
    expect(await kmc.worker.deliverOnce()).to.include({ claimed: 0 });
  });

  it('sends each branch through its own SMS account and sender; SMS switched off means not set up', async () => {
    // Two fresh SMSCs: both number their messages from 1, as independent SMSCs do.
    const central = await TestSmsc.start();
    const branch = await TestSmsc.start({ systemId: 'hafen', password: 'pw-hafen' });
    extra.push(central, branch);
    await db.knex('kmc_branch_settings').insert([
      { branchcode: 'HAF', sms_enabled: 1, sms_url: branch.url, sms_sender: 'Hafen' },
      { branchcode: 'OFF', sms_enabled: 0, sms_url: null, sms_sender: null },
      { branchcode: 'OWN', sms_enabled: 1, sms_url: null, sms_sender: '+4722334455' },
    ]);
    await kmc.close();
    kmc = testServices(settings({ KMC_SMPP_URL: central.url }), clock);
    await kmc.startChannels();

    const availability = await kmc.smsAvailability();
    expect(availability.canSend('HAF')).to.equal(true);
    expect(availability.canSend('CPL')).to.equal(true);
    expect(availability.canSend('OWN')).to.equal(true);
    expect(availability.canSend('OFF')).to.equal(false);
    expect(availability.whyNot('OFF')).to.contain('switched off for branch OFF');

    const [haf, cpl, own, off] = await insert([
      sms('From the harbour', { branchcode: 'HAF' }),
      sms('From the central library', { branchcode: 'CPL' }),
      sms('From a branch with its own number', { branchcode: 'OWN' }),
      sms('From a branch without SMS', { branchcode: 'OFF' }),
    ]);
    const stats = await kmc.worker.deliverOnce();
    expect(stats).to.include({ sent: 3, failed: 1 });
    expect(branch.messagesWithText('From the harbour')[0]).to.include({ from: 'Hafen', sourceTon: 5 });
    expect(branch.binds.filter((b) => b.status === 0)).to.have.length(1);
    expect(central.messagesWithText('From the central library')[0]).to.include({ from: 'KohaLib' });
    expect(central.messagesWithText('From a branch with its own number')[0]).to.include({ from: '4722334455', sourceTon: 1, sourceNpi: 1 });
    expect(central.messagesWithText('From the harbour')).to.have.length(0);
    const refused = await row(off);
    expect(refused.status).to.equal('failed');
    expect(refused.status_reason).to.match(/^SMS_NOT_SET_UP: SMS is switched off for branch OFF/);
    expect(central.messagesWithText('From a branch without SMS')).to.have.length(0);

    // The same message id from two SMSCs: a receipt is matched on the account it came in on.
    const harbour = await row(haf);
    expect(harbour.provider_account).to.equal(`hafen@127.0.0.1:${branch.port}`);
    const twin = [await row(cpl), await row(own)].find((r) => r.provider_id === harbour.provider_id);
    expect(twin, 'a central message with the same SMSC message id').to.not.equal(undefined);
    expect(twin!.provider_account).to.equal(`kmc@127.0.0.1:${central.port}`);
    expect(await branch.sendReceipt(harbour.provider_id!, { form: 'tlv', stat: 'UNDELIV' })).to.equal(0);
    expect((await row(haf)).status).to.equal('bounced');
    expect((await row(twin!.id)).status).to.equal('sent');
  });
});
