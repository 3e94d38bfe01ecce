/**
 * One conformance suite for the channel adapter contract, run against every
 * adapter the worker can be given: e-mail over SMTP (a real SMTP server), SMS
 * over SMPP (a real SMSC), the SMS router the composition root uses, and
 * print letters. Each harness only says how to provoke a problem; the
 * expectations are the same for all.
 */
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../../sidecar/channels/contract';
import { SmtpAdapter } from '../../sidecar/channels/smtp';
import { PrintAdapter } from '../../sidecar/channels/print';
import { renderLettersPdf } from '../../sidecar/letters';
import { printLetter } from '../support/print';
import { SmppAdapter, SmppStatus } from '../../sidecar/channels/smpp';
import { SmsRouter } from '../../sidecar/channels/sms';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { TestSmsc } from '../support/smsc';

interface Harness {
  /** Starts whatever server the adapter talks to, and returns the adapter (not started). */
  setUp(): ChannelAdapter | Promise<ChannelAdapter>;
  tearDown(): void | Promise<void>;
  /** A message the server will take. */
  message(n: number): OutgoingMessage;
  /** A message the channel refuses for good. */
  permanentFailure(n: number): OutgoingMessage;
  /** Makes the next send meet a passing problem; the returned function ends it. */
  transientProblem(): () => void | Promise<void>;
  /** Makes the server slow to answer, so sends are still in flight when stop() is called. */
  slowDown(): void;
  /** How many times the server (or the print folder) got this message. */
  received(message: OutgoingMessage): number;
}

let serial = 0;
const nextId = () => (serial += 1);

function smtpHarness(): Harness {
  let smtp: MailCapture;
  let refuse: string | null = null;
  let soft = false;
  return {
    async setUp() {
      smtp = new MailCapture({
        respond: (env) => {
          if (soft) return { action: 'reply', code: 451, message: '4.3.0 try again later' };
          if (refuse && env.to.includes(refuse)) return { action: 'reply', code: 550, message: '5.1.1 no such user' };
          return { action: 'accept' };
        },
      });
      await smtp.start();
      return new SmtpAdapter({ url: smtp.url, timeoutMs: 5_000 });
    },
    async tearDown() {
      await smtp.stop();
    },
    message: (n) => ({
      id: n,
      channel: 'email',
      to: `patron${n}@example.org`,
      from: 'library@example.org',
      subject: `Notice ${n}`,
      text: `Notice number ${n}`,
    }),
    permanentFailure(n) {
      refuse = `nobody${n}@example.org`;
      return { id: n, channel: 'email', to: refuse, from: 'library@example.org', subject: `Notice ${n}`, text: `Notice number ${n}` };
    },
    transientProblem() {
      soft = true;
      return () => {
        soft = false;
      };
    },
    slowDown() {
      // The capture server answers at once; a send still needs a connection and a full SMTP dialogue first.
    },
    received: (m) => smtp.messages.filter((c) => c.parsed.subject === m.subject).length,
  };
}

function smscHarness(kind: 'smpp' | 'router'): Harness {
  let smsc: TestSmsc;
  const phone = (n: number) => `+4670${String(1_000_000 + n)}`;
  return {
    async setUp() {
      smsc = await TestSmsc.start();
      const client = {
        pduTimeoutMs: 2_000,
        enquireLinkMs: 0,
        reconnect: { minMs: 50, maxMs: 200 },
        throttle: { minMs: 50, maxMs: 200 },
        throttleRetries: 0,
        stopTimeoutMs: 3_000,
      };
      if (kind === 'smpp') return new SmppAdapter(smsc.url, { ...client, defaultFrom: 'Library' });
      return new SmsRouter({
        defaultUrl: smsc.url,
        defaultSender: 'Library',
        client,
        accounts: { branchAccounts: () => Promise.resolve([]) },
      });
    },
    async tearDown() {
      await smsc.close();
    },
    message: (n) => ({
      id: n,
      channel: 'sms',
      to: phone(n),
      from: 'Library',
      subject: '',
      text: `Notice number ${n} €`,
      branchcode: 'CPL',
    }),
    permanentFailure(n) {
      smsc.refuseDestination(phone(n), SmppStatus.RINVDSTADR);
      return { id: n, channel: 'sms', to: phone(n), from: 'Library', subject: '', text: `Notice number ${n}`, branchcode: 'CPL' };
    },
    transientProblem() {
      smsc.throttleNext(1);
      // The client waits out its (short) throttle pause by itself once the SMSC accepts again.
      return () => undefined;
    },
    slowDown() {
      smsc.setResponseDelay(300);
    },
    received: (m) => smsc.messagesWithText(m.text).length,
  };
}

function printHarness(): Harness {
  let dir: string;
  let adapter: PrintAdapter;
  const made = new Map<number, OutgoingMessage>();
  const remember = (m: OutgoingMessage) => {
    made.set(m.id, m);
    return m;
  };
  return {
    setUp() {
      dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-contract-print-'));
      // The letters' PDF is made from the letters handed over, with the real renderer.
      adapter = new PrintAdapter({
        dir,
        timeZone: 'UTC',
        render: (ids) =>
          renderLettersPdf(
            ids.flatMap((id) => {
              const m = made.get(id);
              return m
                ? [
                    {
                      messageId: id,
                      branchLines: [m.from],
                      recipientLines: m.to.split('\n'),
                      date: '2026-11-24',
                      subject: m.subject,
                      body: m.text,
                    },
                  ]
                : [];
            }),
            { title: 'Letters', lang: 'sv' },
          ),
      });
      return adapter;
    },
    tearDown() {
      rmSync(dir, { recursive: true, force: true });
    },
    message: (n) => remember(printLetter(n, 7)),
    permanentFailure: (n) =>
      remember({
        id: n,
        channel: 'print',
        to: 'Åsa Öberg',
        from: 'Centralbiblioteket',
        subject: `Notice ${n}`,
        text: '   ',
      }),
    transientProblem() {
      // A file where the print folder's spool should be: noting a letter fails until staff clear it.
      const spool = path.join(dir, '.spool');
      rmSync(spool, { recursive: true, force: true });
      writeFileSync(spool, 'in the way');
      return () => {
        rmSync(spool, { force: true });
        mkdirSync(spool, { recursive: true });
      };
    },
    slowDown() {},
    received: (m) => adapter.timesNoted(m.id),
  };
}

const harnesses: Array<[string, () => Harness]> = [
  ['e-mail over SMTP', smtpHarness],
  ['SMS over SMPP', () => smscHarness('smpp')],
  ['SMS through the branch router', () => smscHarness('router')],
  ['print letters', printHarness],
];

const CODE = /^[A-Z][A-Z0-9_]+$/;

for (const [name, make] of harnesses) {
  describe(`channel adapter contract: ${name}`, function () {
    this.timeout(20_000);
    let h: Harness;
    let adapter: ChannelAdapter;

    beforeEach(async () => {
      h = make();
      adapter = await h.setUp();
    });

    afterEach(async () => {
      await adapter.stop();
      await h.tearDown();
    });

    it('starts, names its channel, says how many sends it takes at once, and stops (twice is harmless)', async () => {
      await adapter.start();
      expect(['email', 'sms', 'print']).to.include(adapter.channel);
      expect(adapter.maxInFlight).to.be.a('number').and.to.be.at.least(1);
      await adapter.stop();
      await adapter.stop();
    });

    it('accepts a message with a provider id, and the server gets it once', async () => {
      await adapter.start();
      const m = h.message(nextId());
      const outcome = await adapter.send(m);
      expect(outcome.kind, JSON.stringify(outcome)).to.equal('accepted');
      const accepted = outcome as Extract<SendOutcome, { kind: 'accepted' }>;
      expect(accepted.providerId).to.be.a('string').and.not.equal('');
      expect(accepted.reply).to.be.a('string').and.not.equal('');
      expect(h.received(m)).to.equal(1);
    });

    it('a permanent refusal gives failed with a stable code and a reason, never retry', async () => {
      await adapter.start();
      const m = h.permanentFailure(nextId());
      const outcome = await adapter.send(m);
      expect(outcome.kind, JSON.stringify(outcome)).to.equal('failed');
      const failed = outcome as Extract<SendOutcome, { kind: 'failed' }>;
      expect(failed.code).to.match(CODE);
      expect(failed.reason).to.be.a('string').and.not.equal('');
      expect(h.received(m)).to.equal(0);
    });

    it('a passing problem gives retry with a code; the same message goes through once it is over', async () => {
      await adapter.start();
      const m = h.message(nextId());
      const end = h.transientProblem();
      const outcome = await adapter.send(m);
      expect(outcome.kind, JSON.stringify(outcome)).to.equal('retry');
      expect((outcome as { code: string }).code).to.match(CODE);
      expect(h.received(m)).to.equal(0);
      await end();
      const again = await adapter.send(m);
      expect(again.kind, JSON.stringify(again)).to.equal('accepted');
      expect(h.received(m)).to.equal(1);
    });

    it('stop() waits for the sends in flight, which all end accepted', async () => {
      await adapter.start();
      h.slowDown();
      const messages = [nextId(), nextId(), nextId()].map((n) => h.message(n));
      const order: string[] = [];
      const sends = messages.map((m) => adapter.send(m).then((o) => (order.push(`send ${m.id}`), o)));
      const stopped = adapter.stop().then(() => order.push('stopped'));
      const outcomes = await Promise.all(sends);
      await stopped;
      for (const o of outcomes) expect(o.kind, JSON.stringify(o)).to.equal('accepted');
      expect(order[order.length - 1]).to.equal('stopped');
      for (const m of messages) expect(h.received(m)).to.equal(1);
    });

    it('a send after stop() gives retry (the message is kept for later), and nothing reaches the server', async () => {
      await adapter.start();
      await adapter.stop();
      const m = h.message(nextId());
      const outcome = await adapter.send(m);
      expect(outcome.kind, JSON.stringify(outcome)).to.equal('retry');
      expect((outcome as { code: string }).code).to.match(CODE);
      expect(h.received(m)).to.equal(0);
    });
  });
}
