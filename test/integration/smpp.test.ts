/**
 * The SMS channel against a real SMPP server (the test SMSC) over loopback.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { OutgoingMessage, SendOutcome } from '../../sidecar/channels/contract';
import { SmppAdapter, SmppAdapterOptions, DeliveryReceipt, planSms, SmppStatus } from '../../sidecar/channels/smpp';
import { KmcError } from '../../sidecar/errors';
import { TestSmsc, TEST_TLS_CERT } from '../support/smsc';

const PATRON = '+4791234567';
let nextId = 0;

function sms(text: string, over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  nextId += 1;
  return { id: nextId, channel: 'sms', to: PATRON, from: 'Library', subject: '', text, ...over };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function accepted(outcome: SendOutcome): Extract<SendOutcome, { kind: 'accepted' }> {
  expect(outcome.kind, JSON.stringify(outcome)).to.equal('accepted');
  return outcome as Extract<SendOutcome, { kind: 'accepted' }>;
}

async function startError(adapter: SmppAdapter): Promise<KmcError> {
  try {
    await adapter.start();
  } catch (err) {
    expect(err).to.be.instanceOf(KmcError);
    return err as KmcError;
  }
  throw new Error('start() should have failed');
}

describe('SMS channel over SMPP (test SMSC on loopback)', function () {
  this.timeout(20_000);

  let smsc: TestSmsc;
  const adapters: SmppAdapter[] = [];
  const extraSmscs: TestSmsc[] = [];

  async function adapterFor(url: string, options: SmppAdapterOptions = {}, start = true): Promise<SmppAdapter> {
    const adapter = new SmppAdapter(url, {
      reconnect: { minMs: 50, maxMs: 200 },
      pduTimeoutMs: 2_000,
      enquireLinkMs: 0,
      connectTimeoutMs: 2_000,
      stopTimeoutMs: 2_000,
      ...options,
    });
    adapters.push(adapter);
    if (start) await adapter.start();
    return adapter;
  }

  async function extraSmsc(options: Parameters<typeof TestSmsc.start>[0] = {}): Promise<TestSmsc> {
    const s = await TestSmsc.start(options);
    extraSmscs.push(s);
    return s;
  }

  before(async () => {
    smsc = await TestSmsc.start({ systemId: 'kmc', password: 'secret' });
  });

  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.stop()));
    await Promise.all(extraSmscs.splice(0).map((s) => s.close()));
    smsc.reset();
  });

  after(async () => {
    await smsc.close();
  });

  describe('binding', () => {
    it('binds as a transceiver with the configured system_id', async () => {
      await adapterFor(smsc.url);
      expect(smsc.binds).to.have.length(1);
      expect(smsc.binds[0]).to.include({ mode: 'transceiver', systemId: 'kmc', status: 0 });
      expect(smsc.boundSessions).to.equal(1);
    });

    it('gives a clear permanent error at start for a wrong password, and does not keep trying', async () => {
      const adapter = await adapterFor(smsc.urlWith('kmc', 'hunter2x'), {}, false);
      const err = await startError(adapter);
      expect(err.code).to.equal('SMPP_BIND_REJECTED');
      expect(err.message).to.contain('ESME_RINVPASWD').and.to.contain('system_id "kmc"');
      expect(err.message).not.to.contain('hunter2x');
      expect((err as KmcError & { permanent?: boolean }).permanent).to.equal(true);
      await sleep(400);
      expect(smsc.binds).to.have.length(1);
      expect(smsc.boundSessions).to.equal(0);
      const outcome = await adapter.send(sms('after a failed start'));
      expect(outcome).to.include({ kind: 'retry', code: 'SMPP_NOT_STARTED' });
      expect(smsc.submits).to.have.length(0);
    });

    it('names an unknown system_id', async () => {
      const adapter = await adapterFor(smsc.urlWith('someone', 'secret'), {}, false);
      const err = await startError(adapter);
      expect(err.code).to.equal('SMPP_BIND_REJECTED');
      expect(err.message).to.contain('ESME_RINVSYSID');
    });

    it('reports an SMSC that is not there', async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => {
        probe.close(() => {
          resolve();
        });
      });
      const adapter = await adapterFor(`smpp://kmc:secret@127.0.0.1:${port}`, {}, false);
      const err = await startError(adapter);
      expect(err.code).to.equal('SMPP_CONNECT_FAILED');
      expect(err.message).to.contain(`127.0.0.1:${port}`);
    });

    it('binds a transmitter and a receiver when asked, and receipts come in on the receiver', async () => {
      const receipts: DeliveryReceipt[] = [];
      const adapter = await adapterFor(smsc.url, { bindMode: 'transmitter+receiver', onReceipt: (r) => void receipts.push(r) });
      expect(smsc.binds.map((b) => b.mode).sort()).to.deep.equal(['receiver', 'transmitter']);
      const sent = accepted(await adapter.send(sms('Split bind')));
      const receiver = smsc.binds.find((b) => b.mode === 'receiver');
      expect(smsc.submits[0].sessionId).not.to.equal(receiver?.sessionId);
      expect(await smsc.sendReceipt(sent.providerId as string, { form: 'tlv' })).to.equal(0);
      expect(receipts).to.deep.equal([{ providerId: sent.providerId, state: 'delivered', stat: 'DELIVRD' }]);
    });

    it('speaks TLS with certificate checking: trusts a given CA file, refuses an unknown certificate', async () => {
      const tlsSmsc = await extraSmsc({ tls: true });
      expect(tlsSmsc.url.startsWith('smpps://')).to.equal(true);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmc-smpp-'));
      const caFile = path.join(dir, 'ca.pem');
      fs.writeFileSync(caFile, TEST_TLS_CERT);
      try {
        const trusting = await adapterFor(tlsSmsc.url, { ca: caFile });
        accepted(await trusting.send(sms('Over TLS €')));
        expect(tlsSmsc.messages.map((m) => m.text)).to.deep.equal(['Over TLS €']);

        const untrusting = await adapterFor(tlsSmsc.url, {}, false);
        const err = await startError(untrusting);
        expect(err.code).to.equal('SMPP_TLS_FAILED');
        expect(tlsSmsc.binds).to.have.length(1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('sending', () => {
    it('sends a single GSM message the SMSC decodes back exactly, alphanumeric sender as TON 5 NPI 0', async () => {
      const adapter = await adapterFor(smsc.url);
      const text = 'Hello Ada, "Dune" is ready for pick-up at Main Library until 12/03. Fee: 5€ [card]';
      const outcome = accepted(await adapter.send(sms(text)));
      expect(smsc.messages).to.have.length(1);
      const got = smsc.messages[0];
      expect(got).to.include({
        text,
        dataCoding: 0,
        to: '4791234567',
        destTon: 1,
        destNpi: 1,
        from: 'Library',
        sourceTon: 5,
        sourceNpi: 0,
      });
      expect(got.parts).to.have.length(1);
      expect(got.parts[0].esmClass).to.equal(0);
      expect(got.parts[0].registeredDelivery).to.equal(1);
      expect(outcome.providerId).to.equal(got.messageIds[0]);
      expect(outcome.reply).to.contain(got.messageIds[0]);
    });

    const longTexts: Array<[string, string, number]> = [
      ['GSM with € and brackets', 'Overdue: "The Hobbit" [fee 12€] {branch: Main} ~ please return ^_^ | '.repeat(6), 0],
      ['emoji', '📚 Your books are waiting! 😀 Pick them up soon 🎉 '.repeat(4), 8],
      ['Cyrillic', 'Ваша книга готова к выдаче в главной библиотеке. '.repeat(3), 8],
    ];
    for (const [label, text, dataCoding] of longTexts) {
      it(`sends a long message (${label}) in parts that join back exactly`, async () => {
        const adapter = await adapterFor(smsc.url);
        const expectedParts = planSms(text).parts.length;
        expect(expectedParts).to.be.greaterThan(1);
        const outcome = accepted(await adapter.send(sms(text)));
        const got = smsc.messagesWithText(text);
        expect(got, 'the joined text arrived exactly once').to.have.length(1);
        const parts = got[0].parts;
        expect(parts).to.have.length(expectedParts);
        expect(smsc.submits).to.have.length(expectedParts);
        for (const [i, part] of parts.entries()) {
          expect(part.dataCoding, `data_coding of part ${i + 1}`).to.equal(dataCoding);
          expect(part.esmClass & 0x40, `UDHI of part ${i + 1}`).to.equal(0x40);
          expect(part.concat).to.include({ total: expectedParts, sequence: i + 1 });
          expect(part.registeredDelivery, `registered_delivery of part ${i + 1}`).to.equal(i === parts.length - 1 ? 1 : 0);
        }
        expect(new Set(parts.map((p) => p.concat?.reference)).size).to.equal(1);
        expect(outcome.providerId).to.equal(parts[parts.length - 1].messageId);
        for (const id of got[0].messageIds) expect(outcome.reply).to.contain(id);
      });
    }

    it('gives each long message its own concatenation reference', async () => {
      const adapter = await adapterFor(smsc.url);
      const a = 'A'.repeat(200);
      const b = 'B'.repeat(200);
      accepted(await adapter.send(sms(a)));
      accepted(await adapter.send(sms(b)));
      const refA = smsc.messagesWithText(a)[0].parts[0].concat?.reference;
      const refB = smsc.messagesWithText(b)[0].parts[0].concat?.reference;
      expect(refA).not.to.equal(refB);
    });

    it('chooses TON/NPI for numeric senders and uses the default sender when a message has none', async () => {
      const adapter = await adapterFor(smsc.url, { defaultFrom: 'KohaLib' });
      accepted(await adapter.send(sms('international sender', { from: '+4722334455' })));
      accepted(await adapter.send(sms('short code sender', { from: '2222' })));
      accepted(await adapter.send(sms('national sender', { from: '22334455' })));
      accepted(await adapter.send(sms('default sender', { from: '' })));
      const byText = (t: string) => smsc.messagesWithText(t)[0];
      expect(byText('international sender')).to.include({ from: '4722334455', sourceTon: 1, sourceNpi: 1 });
      expect(byText('short code sender')).to.include({ from: '2222', sourceTon: 3, sourceNpi: 1 });
      expect(byText('national sender')).to.include({ from: '22334455', sourceTon: 0, sourceNpi: 1 });
      expect(byText('default sender')).to.include({ from: 'KohaLib', sourceTon: 5, sourceNpi: 0 });
    });

    it('keeps no more than the window in flight', async () => {
      const adapter = await adapterFor(smsc.url, { windowSize: 3 });
      smsc.setResponseDelay(250);
      const outcomes = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => adapter.send(sms(`window ${n}`))));
      outcomes.forEach(accepted);
      const times = smsc.submits.map((s) => s.at);
      expect(times).to.have.length(6);
      // The fourth can only leave once an answer freed a slot.
      expect(times[3] - times[0]).to.be.at.least(200);
      // Counted by the SMSC: three at once, never more.
      expect(Math.max(...smsc.submits.map((s) => s.inFlight))).to.equal(2);
    });
  });

  describe('refusals and transient problems', () => {
    it('fails permanently, with a code, for a destination the SMSC refuses', async () => {
      const adapter = await adapterFor(smsc.url);
      smsc.refuseDestination('+4799999999', SmppStatus.RINVDSTADR);
      const outcome = await adapter.send(sms('to nowhere', { to: '+4799999999' }));
      expect(outcome).to.include({ kind: 'failed', code: 'SMPP_INVALID_DESTINATION' });
      expect((outcome as { reason: string }).reason).to.contain('ESME_RINVDSTADR');
      expect(smsc.messages).to.have.length(0);
    });

    it('maps other SMSC answers to retry or failed', async () => {
      const adapter = await adapterFor(smsc.url);
      smsc.refuseDestination('+4790000001', SmppStatus.RMSGQFUL);
      smsc.refuseDestination('+4790000002', SmppStatus.RSYSERR);
      smsc.refuseDestination('+4790000003', SmppStatus.RINVSRCADR);
      smsc.refuseDestination('+4790000004', 0x0400); // vendor-specific
      const full = await adapter.send(sms('q', { to: '+4790000001' }));
      expect(full).to.include({ kind: 'retry', code: 'SMPP_QUEUE_FULL' });
      expect((full as { retryAfterMs?: number }).retryAfterMs).to.be.greaterThan(0);
      expect(await adapter.send(sms('s', { to: '+4790000002' }))).to.include({ kind: 'retry', code: 'SMPP_SYSTEM_ERROR' });
      expect(await adapter.send(sms('a', { to: '+4790000003' }))).to.include({ kind: 'failed', code: 'SMPP_INVALID_SOURCE' });
      expect(await adapter.send(sms('v', { to: '+4790000004' }))).to.include({ kind: 'failed', code: 'SMPP_REJECTED' });
    });

    it('refuses bad input before anything is sent, each with a clear code', async () => {
      const adapter = await adapterFor(smsc.url, { maxParts: 3 });
      const cases: Array<[OutgoingMessage, string]> = [
        [sms('hello', { to: '91234567' }), 'SMPP_INVALID_DESTINATION'],
        [sms('hello', { to: 'not a number' }), 'SMPP_INVALID_DESTINATION'],
        [sms('hello', { from: 'ThisSenderIsTooLong' }), 'SMPP_INVALID_SOURCE'],
        [sms(''), 'SMPP_EMPTY_MESSAGE'],
        [sms('broken \ud83d text'), 'SMPP_INVALID_TEXT'],
        [sms('x'.repeat(153 * 3 + 1)), 'SMPP_MESSAGE_TOO_LONG'],
        [sms('hello', { channel: 'email' }), 'SMPP_WRONG_CHANNEL'],
      ];
      for (const [message, code] of cases) {
        const outcome = await adapter.send(message);
        expect(outcome, code).to.include({ kind: 'failed', code });
        expect((outcome as { reason: string }).reason)
          .to.be.a('string')
          .and.not.equal('');
      }
      expect(smsc.submits).to.have.length(0);
      accepted(await adapter.send(sms('x'.repeat(153 * 3))));
    });

    it('slows down when throttled, then the message is accepted', async () => {
      const adapter = await adapterFor(smsc.url, { throttle: { minMs: 150, maxMs: 2_000 }, throttleRetries: 3 });
      smsc.throttleNext(2);
      const outcome = accepted(await adapter.send(sms('throttled once or twice')));
      const attempts = smsc.submitsWithText('throttled once or twice');
      expect(attempts.map((a) => a.status)).to.deep.equal([SmppStatus.RTHROTTLED, SmppStatus.RTHROTTLED, 0]);
      // Pauses of 150 ms, then 300 ms (doubling while it repeats); timers may fire a little early.
      expect(attempts[1].at - attempts[0].at).to.be.at.least(140);
      expect(attempts[2].at - attempts[1].at).to.be.at.least(290);
      expect(outcome.providerId).to.equal(attempts[2].messageId);
      expect(smsc.messagesWithText('throttled once or twice')).to.have.length(1);
      expect(adapter.client.stats.throttled).to.equal(2);
    });

    it('holds back every other message during the throttle pause', async () => {
      const adapter = await adapterFor(smsc.url, { throttle: { minMs: 200, maxMs: 2_000 } });
      smsc.throttleNext(1);
      const first = adapter.send(sms('pause one'));
      // The others are handed over once the client has taken the refusal: whatever the machine's load, they come after it.
      while (adapter.client.stats.throttled < 1) await new Promise((r) => setTimeout(r, 2));
      const outcomes = await Promise.all([first, ...['two', 'three', 'four'].map((t) => adapter.send(sms(`pause ${t}`)))]);
      outcomes.forEach(accepted);
      const throttledAt = smsc.submits.findIndex((s) => s.status === SmppStatus.RTHROTTLED);
      expect(throttledAt).to.equal(0);
      // Everything handed over during the pause waited it out.
      const later = smsc.submits.slice(1);
      expect(later).to.have.length(4);
      for (const s of later) expect(s.at - smsc.submits[0].at).to.be.at.least(190);
      expect(smsc.messages).to.have.length(4);
    });

    it('returns retry with retryAfterMs when the SMSC keeps throttling', async () => {
      const adapter = await adapterFor(smsc.url, { throttle: { minMs: 50, maxMs: 500 }, throttleRetries: 1 });
      smsc.throttleNext(10);
      const outcome = await adapter.send(sms('always throttled'));
      expect(outcome).to.include({ kind: 'retry', code: 'SMPP_THROTTLED' });
      expect((outcome as { retryAfterMs?: number }).retryAfterMs).to.be.greaterThan(0);
      expect(smsc.submitsWithText('always throttled')).to.have.length(2);
      expect(smsc.messages).to.have.length(0);
    });

    it('returns retry SMPP_TIMEOUT for a PDU that is never answered, and the link stays usable', async () => {
      const adapter = await adapterFor(smsc.url, { pduTimeoutMs: 300 });
      smsc.ignoreNextSubmits(1);
      const started = Date.now();
      const outcome = await adapter.send(sms('into the void'));
      expect(outcome).to.include({ kind: 'retry', code: 'SMPP_TIMEOUT' });
      expect((outcome as { reason: string }).reason).to.contain('may have received');
      expect(Date.now() - started).to.be.at.least(290);
      accepted(await adapter.send(sms('after the time-out')));
      expect(smsc.binds).to.have.length(1);
    });
  });

  describe('losing the connection', () => {
    /**
     * The SMSC records its third submit and then cuts the connection without
     * answering it: that message reached the SMSC but its sender cannot know.
     * SMPP has no way to ask, so a caller that retries it makes the SMSC see
     * it twice. What must hold: every message is accepted in the end; only
     * messages whose first outcome was a retry with unknown fate
     * (SMPP_CONNECTION_LOST / SMPP_TIMEOUT) may be duplicated; here exactly
     * one (the cut-off submit) is, and every other text arrives exactly once.
     */
    it('after a drop mid-window, every message ends accepted; only the cut-off submit is seen twice', async () => {
      const adapter = await adapterFor(smsc.url, { windowSize: 5 });
      const messages = Array.from({ length: 12 }, (_, i) => sms(`window message ${i + 1}`));
      smsc.dropAfterSubmits(3);

      const first = await Promise.all(messages.map((m) => adapter.send(m)));
      const firstById = new Map(messages.map((m, i) => [m.id, first[i]]));
      const retried = first.filter((o) => o.kind === 'retry');
      expect(first.filter((o) => o.kind === 'failed')).to.have.length(0);
      expect(retried.length).to.be.at.least(1);
      for (const o of retried) expect(['SMPP_CONNECTION_LOST', 'SMPP_NOT_CONNECTED']).to.include((o as { code: string }).code);
      expect(retried.map((o) => (o as { code: string }).code)).to.include('SMPP_CONNECTION_LOST');

      const final = new Map<number, SendOutcome>();
      messages.forEach((m, i) => {
        if (first[i].kind === 'accepted') final.set(m.id, first[i]);
      });
      for (let round = 0; round < 10 && final.size < messages.length; round += 1) {
        await smsc.waitFor(() => smsc.boundSessions === 1, 5_000, 'the adapter to bind again');
        for (const m of messages) {
          if (final.has(m.id)) continue;
          const o = await adapter.send(m);
          if (o.kind === 'accepted') final.set(m.id, o);
          else expect(o.kind, JSON.stringify(o)).to.equal('retry');
        }
      }
      expect(final.size).to.equal(messages.length);
      expect(smsc.binds.filter((b) => b.status === 0)).to.have.length(2);
      expect(adapter.client.stats.connectionDrops).to.equal(1);

      const cutOff = smsc.submits[2];
      expect(cutOff.answered).to.equal(false);
      for (const m of messages) {
        const seen = smsc.messagesWithText(m.text).length;
        if (m.text === cutOff.text) {
          expect(seen, m.text).to.equal(2);
          expect(firstById.get(m.id)).to.include({ kind: 'retry', code: 'SMPP_CONNECTION_LOST' });
        } else {
          expect(seen, m.text).to.equal(1);
        }
      }
      // The id the worker keeps is the one the SMSC gave on the accepted attempt.
      for (const m of messages) {
        const o = final.get(m.id) as Extract<SendOutcome, { kind: 'accepted' }>;
        const ids = smsc.messagesWithText(m.text).map((x) => x.messageIds[0]);
        expect(ids).to.include(o.providerId);
      }
    });

    it('resumes a long message at the part that was cut off instead of sending it all again', async () => {
      const adapter = await adapterFor(smsc.url);
      const text = 'Part-resume test. '.repeat(20); // 360 septets: 3 parts
      const message = sms(text);
      smsc.dropAfterSubmits(2);
      const first = await adapter.send(message);
      expect(first).to.include({ kind: 'retry', code: 'SMPP_CONNECTION_LOST' });
      await smsc.waitFor(() => smsc.boundSessions === 1, 5_000, 'the adapter to bind again');
      const second = accepted(await adapter.send(message));

      const sequences = smsc.submits.map((s) => s.concat?.sequence);
      expect(sequences).to.deep.equal([1, 2, 2, 3]);
      expect(smsc.submits[2].duplicate).to.equal(true);
      expect(smsc.submits[0].concat?.reference).to.equal(smsc.submits[3].concat?.reference);
      expect(smsc.messagesWithText(text)).to.have.length(1);
      expect(second.providerId).to.equal(smsc.submits[3].messageId);
    });

    it('enquire_link keeps an idle bind alive past the SMSC idle time-out', async () => {
      const idleSmsc = await extraSmsc({ idleTimeoutMs: 400 });
      const alive = await adapterFor(idleSmsc.url, { enquireLinkMs: 100 });
      await sleep(1_300);
      expect(idleSmsc.enquireLinks).to.be.at.least(8);
      expect(idleSmsc.binds).to.have.length(1);
      expect(alive.client.stats.connectionDrops).to.equal(0);
      accepted(await alive.send(sms('still bound')));
      expect(idleSmsc.binds).to.have.length(1);
    });

    it('without enquire_link the same SMSC drops the idle bind (the idle time-out is real)', async () => {
      const idleSmsc = await extraSmsc({ idleTimeoutMs: 400 });
      const silent = await adapterFor(idleSmsc.url, { enquireLinkMs: 0 });
      await idleSmsc.waitFor(() => silent.client.stats.connectionDrops >= 1, 3_000, 'the idle bind to be dropped');
      await idleSmsc.waitFor(() => idleSmsc.binds.length >= 2, 3_000, 'the adapter to bind again');
      accepted(await silent.send(sms('bound again')));
    });

    it('drops and rebinds a link whose enquire_link goes unanswered', async () => {
      const adapter = await adapterFor(smsc.url, { enquireLinkMs: 100, pduTimeoutMs: 250 });
      smsc.ignoreEnquireLinks(true);
      await smsc.waitFor(() => smsc.binds.length >= 2, 5_000, 'a second bind');
      smsc.ignoreEnquireLinks(false);
      await smsc.waitFor(() => smsc.boundSessions === 1, 5_000, 'a bound session');
      expect(adapter.client.stats.connectionDrops).to.be.at.least(1);
      accepted(await adapter.send(sms('after the dead link')));
    });
  });

  describe('delivery receipts', () => {
    it('hands receipts in TLV form and in text form to onReceipt', async () => {
      const receipts: DeliveryReceipt[] = [];
      const adapter = await adapterFor(smsc.url, { onReceipt: (r) => void receipts.push(r) });
      const one = accepted(await adapter.send(sms('receipt one')));
      const two = accepted(await adapter.send(sms('receipt two')));
      const three = accepted(await adapter.send(sms('receipt three')));
      expect(await smsc.sendReceipt(one.providerId as string, { form: 'tlv', stat: 'DELIVRD' })).to.equal(0);
      expect(await smsc.sendReceipt(two.providerId as string, { form: 'text', stat: 'UNDELIV', err: '001' })).to.equal(0);
      expect(await smsc.sendReceipt(three.providerId as string, { form: 'both', stat: 'EXPIRED', err: '027' })).to.equal(0);
      expect(receipts).to.deep.equal([
        { providerId: one.providerId, state: 'delivered', stat: 'DELIVRD' },
        { providerId: two.providerId, state: 'failed', stat: 'UNDELIV', err: '001' },
        { providerId: three.providerId, state: 'failed', stat: 'EXPIRED', err: '027' },
      ]);
    });

    it('the demo SMSC can capture messages and answer each with a receipt by itself', async () => {
      const captured: string[] = [];
      const demoSmsc = await extraSmsc({ onMessage: (m) => captured.push(m.text), autoReceipt: { form: 'text', delayMs: 20 } });
      const receipts: DeliveryReceipt[] = [];
      const adapter = await adapterFor(demoSmsc.url, { onReceipt: (r) => void receipts.push(r) });
      const sent = accepted(await adapter.send(sms('Демо 📚 '.repeat(12))));
      await demoSmsc.waitFor(() => receipts.length === 1, 2_000, 'the automatic receipt');
      expect(captured).to.deep.equal(['Демо 📚 '.repeat(12)]);
      expect(receipts[0]).to.deep.equal({ providerId: sent.providerId, state: 'delivered', stat: 'DELIVRD', err: '000' });
    });

    it('asks the SMSC to offer a receipt again when recording it fails', async () => {
      let calls = 0;
      const adapter = await adapterFor(smsc.url, {
        onReceipt: () => {
          calls += 1;
          return Promise.reject(new Error('database is away'));
        },
      });
      const sent = accepted(await adapter.send(sms('receipt that fails')));
      expect(await smsc.sendReceipt(sent.providerId as string, { form: 'text' })).to.equal(SmppStatus.RX_T_APPN);
      expect(calls).to.equal(1);
    });
  });

  describe('stopping', () => {
    it('stop() takes no new sends, waits for those in flight, then unbinds', async () => {
      const adapter = await adapterFor(smsc.url);
      smsc.setResponseDelay(300);
      const inFlight = adapter.send(sms('in flight at stop'));
      await smsc.waitFor(() => smsc.submits.length === 1, 2_000, 'the submit to arrive');
      const stopping = adapter.stop();
      const refused = await adapter.send(sms('too late'));
      expect(refused).to.include({ kind: 'retry', code: 'SMPP_STOPPED' });
      accepted(await inFlight);
      await stopping;
      expect(smsc.unbinds).to.equal(1);
      await smsc.waitFor(() => smsc.boundSessions === 0, 2_000, 'the session to close');
      expect(smsc.submitsWithText('too late')).to.have.length(0);
    });
  });
});
