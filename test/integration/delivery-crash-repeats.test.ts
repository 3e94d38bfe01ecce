/**
 * What a crash can repeat, measured: the real `kmc deliver --once` is
 * killed with SIGKILL at random moments while e-mails and SMS are in flight,
 * more than twenty times, and started again until the queue is empty. The
 * copies each message got at the real SMTP sink and the real test SMSC are
 * counted: per kill, the copies beyond one are at most the channel's
 * in-flight window, and every copy of an e-mail carries the same Message-ID.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { cliKind } from '../support/cli';
import { MessageStore, type NewMessage } from '../../sidecar/queue';
import { deliveryWorld, startWorker, workerEnv } from './delivery-support';

/** Kills, each while a worker has sends in flight. */
const KILLS = 22;
const EMAILS_PER_KILL = 20;
const SMS_PER_KILL = 12;
/** Twice the SMTP pool of five connections (the adapter's window). */
const EMAIL_WINDOW = 10;
/** KMC_SMPP_WINDOW below: smaller than a round's SMS, so the bound is a real limit. */
const SMS_WINDOW = 4;

type Channel = 'email' | 'sms';

function message(round: number, i: number, channel: Channel): NewMessage {
  const tag = `r${round}.${channel}.${i}`;
  return {
    idempotencyKey: `test:repeats:${tag}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 20_000 + round * 100 + i,
    branchcode: 'CPL',
    channel,
    status: 'pending',
    to: channel === 'sms' ? `+4670${String(5_000_000 + round * 100 + i)}` : `repeat.${tag}@example.org`,
    from: channel === 'email' ? 'library@bib.example' : 'Library',
    lang: 'en',
    subject: `Repeats ${tag}`,
    text: `Repeats ${tag}`,
    html: null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`what a crash of delivery can repeat (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(90_000);
  const world = deliveryWorld('repeats');
  const { children } = world;

  it(`${String(KILLS)} kills at random moments: per kill, copies beyond one stay within each channel's window, all with one Message-ID`, async () => {
    const { db, smsc, smtp } = world;
    const store = new MessageStore(db.knex);
    // Answers slow enough that a window of submits is in flight when the kill lands.
    smsc.setResponseDelay(8);
    const env = workerEnv(world, {
      KMC_DELIVERY_LEASE_SECONDS: '2',
      KMC_DELIVERY_BATCH: '8',
      KMC_SMPP_WINDOW: String(SMS_WINDOW),
      KMC_SMPP_PDU_TIMEOUT_MS: '600',
      KMC_RETRY_FIRST_SECONDS: '1',
      KMC_RETRY_MAX_SECONDS: '1',
    });
    const channelOf = new Map<number, Channel>();
    const idOfSms = new Map<string, number>();

    /** Copies of each message at the sinks right now: e-mail by its X-KMC-Message header, SMS by text. */
    const copies = (): Map<number, number> => {
      const seen = new Map<number, number>();
      for (const mail of smtp.messages) {
        const id = Number(mail.parsed.headers.get('x-kmc-message'));
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      for (const sms of smsc.messages) {
        const id = idOfSms.get(sms.text);
        if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      return seen;
    };
    const arrivals = () => smtp.messages.length + smsc.messages.length;

    // Per kill: the messages that reached a server during that worker's life and were still `sending` when it died.
    const atRisk: Array<Record<Channel, number>> = [];
    let before = copies();
    let kills = 0;
    let rounds = 0;
    while (kills < KILLS) {
      rounds += 1;
      expect(rounds, 'rounds needed for the kills').to.be.at.most(KILLS * 2);
      const made = [
        ...Array.from({ length: EMAILS_PER_KILL }, (_, i) => message(rounds, i, 'email')),
        ...Array.from({ length: SMS_PER_KILL }, (_, i) => message(rounds, i, 'sms')),
      ];
      const { ids } = await store.insertMessages(made, new Date(), 'test');
      made.forEach((m, i) => {
        channelOf.set(ids[i], m.channel as Channel);
        if (m.channel === 'sms') idOfSms.set(m.text, ids[i]);
      });

      // A random moment: after 1 to 24 more messages reached a server.
      const killAfter = arrivals() + 1 + Math.floor(Math.random() * 24);
      const worker = startWorker(env, children);
      const ran = { out: false };
      void worker.exit.then(() => (ran.out = true));
      while (!ran.out && arrivals() < killAfter) await sleep(1);
      if (ran.out) {
        // It ran out of work before the moment came: no kill this round, the next round tries again.
        expect(await worker.exit, worker.stderr.join('')).to.deep.equal({ code: 0, signal: null });
        continue;
      }
      worker.child.kill('SIGKILL');
      expect(await worker.exit).to.deep.equal({ code: null, signal: 'SIGKILL' });
      kills += 1;
      // Submits already on the wire still land: let the servers take them before counting.
      await sleep(100);
      const after = copies();
      const sending = new Set(
        (await db.knex('kmc_messages').where({ status: 'sending' }).pluck('id')).map((id: number | string) => Number(id)),
      );
      const risk: Record<Channel, number> = { email: 0, sms: 0 };
      for (const id of sending) {
        if ((after.get(id) ?? 0) > (before.get(id) ?? 0)) risk[channelOf.get(id)!] += 1;
      }
      atRisk.push(risk);
      before = after;
    }

    // Started again until the queue is empty (leases of the dead workers run out after two seconds).
    for (let start = 1; ; start += 1) {
      const left = Number(
        ((await db.knex('kmc_messages').whereNot({ status: 'sent' }).count({ n: '*' }).first()) as { n: number | string }).n,
      );
      if (left === 0) break;
      expect(start, `starts to empty the queue (${String(left)} left)`).to.be.at.most(6);
      await sleep(2100);
      const worker = startWorker(env, children);
      const exit = await worker.exit;
      expect(exit, worker.stderr.join('')).to.deep.equal({ code: 0, signal: null });
    }

    const final = copies();
    const perMessage = new Map<number, number>();
    const extra: Record<Channel, number> = { email: 0, sms: 0 };
    for (const [id, channel] of channelOf) {
      const n = final.get(id) ?? 0;
      expect(n, `message ${String(id)} reached its server`).to.be.at.least(1);
      perMessage.set(n, (perMessage.get(n) ?? 0) + 1);
      extra[channel] += n - 1;
    }
    const figures = {
      kills,
      messages: channelOf.size,
      repeatedByKill: atRisk.map((r) => `${String(r.email)}+${String(r.sms)}`).join(' '),
      copiesPerMessage: Object.fromEntries([...perMessage].sort((a, b) => a[0] - b[0])),
      repeatedPerKill: {
        email: { max: Math.max(...atRisk.map((r) => r.email)), total: extra.email, bound: EMAIL_WINDOW },
        sms: { max: Math.max(...atRisk.map((r) => r.sms)), total: extra.sms, bound: SMS_WINDOW },
      },
    };
    console.log(`      crash figures: ${JSON.stringify(figures)}`);
    // Every copy beyond one is one the kills left in flight, and each kill left at most a window.
    for (const [k, risk] of atRisk.entries()) {
      expect(risk.email, `kill ${String(k + 1)}: e-mails repeated`).to.be.at.most(EMAIL_WINDOW);
      expect(risk.sms, `kill ${String(k + 1)}: SMS repeated`).to.be.at.most(SMS_WINDOW);
    }
    expect(extra.email, 'e-mail copies beyond one, against those the kills left in flight').to.equal(
      atRisk.reduce((n, r) => n + r.email, 0),
    );
    expect(extra.sms, 'SMS copies beyond one, against those the kills left in flight').to.equal(atRisk.reduce((n, r) => n + r.sms, 0));

    // Every copy of an e-mail carries the Message-ID stored for it before its first attempt.
    const stored = new Map(
      (await db.knex('kmc_messages').where({ channel: 'email' }).select('id', 'message_id_header')).map(
        (r: { id: number | string; message_id_header: string | null }) => [Number(r.id), r.message_id_header],
      ),
    );
    for (const mail of smtp.messages) {
      const id = Number(mail.parsed.headers.get('x-kmc-message'));
      expect(mail.parsed.messageId, `message ${String(id)}`).to.equal(stored.get(id));
    }

    expect(extra.email + extra.sms, 'some kill landed with messages in flight').to.be.greaterThan(0);
  });
});
