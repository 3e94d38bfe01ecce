/**
 * A worker process killed with SIGKILL in the middle of a batch, then
 * started again: no message is lost, and only messages the dead worker had
 * in hand (status `sending` when it died) may reach a server twice, which is
 * the window the README describes. The worker is the real command,
 * `kmc deliver --once`, in a child process of its own.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { kohaSchemaKind } from '../support/koha';
import { MessageStore, type NewMessage } from '../../sidecar/queue';
import { cliKind } from '../support/cli';
import { deliveryWorld, startWorker, workerEnv } from './delivery-support';
import { pdfPages } from '../support/pdf';

function message(i: number, channel: 'sms' | 'email' | 'print'): NewMessage {
  return {
    idempotencyKey: `test:crash:${channel}:${i}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 9000 + i,
    branchcode: 'CPL',
    channel,
    status: 'pending',
    to: channel === 'sms' ? `+4670${String(3_000_000 + i)}` : channel === 'email' ? `crash${i}@example.org` : `Patron ${i}\nStorgatan 1`,
    from: channel === 'email' ? 'library@example.org' : 'Library',
    lang: 'en',
    subject: `Crash test ${channel} ${i}`,
    text: `Crash test ${channel} ${i}`,
    html: null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
  };
}

describe(`a delivery worker killed mid-batch and started again (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(60_000);
  const world = deliveryWorld('delivcrash');
  const { children } = world;

  it('loses no message; only those the dead worker had in hand may reach a server twice', async () => {
    const { db, smsc, smtp, printDir } = world;
    const messages = [
      ...Array.from({ length: 200 }, (_, i) => message(i, 'sms')),
      ...Array.from({ length: 60 }, (_, i) => message(i, 'email')),
      ...Array.from({ length: 20 }, (_, i) => message(i, 'print')),
    ];
    const store = new MessageStore(db.knex);
    const { ids } = await store.insertMessages(messages, new Date(), 'test');
    const idByText = new Map(messages.map((m, i) => [m.text, ids[i]]));
    // Slow enough answers that the kill lands while a window of submits is in flight.
    smsc.setResponseDelay(40);
    const env = workerEnv(world, {
      // The lease must be three PDU time-outs; a time-out of 3 s keeps a busy machine's slow answer from turning into a retry.
      KMC_DELIVERY_LEASE_SECONDS: '9',
      KMC_SMPP_PDU_TIMEOUT_MS: '3000',
      KMC_DELIVERY_BATCH: '25',
    });
    // A letter that reached the print folder waits there to be printed: for a letter, that is "sent".
    const done = ['sent', 'to_print'];
    const count = async (status: string) =>
      Number(
        (
          (await db
            .knex('kmc_messages')
            .whereIn('status', status === 'sent' ? done : [status])
            .count({ n: '*' })
            .first()) as {
            n: number | string;
          }
        ).n,
      );

    const first = startWorker(env, children);
    const deadline = Date.now() + 30_000;
    while ((await count('sent')) < 40) {
      if (first.child.exitCode !== null) throw new Error(`the worker finished before it could be killed: ${first.stderr.join('')}`);
      if (Date.now() > deadline) throw new Error(`the worker sent too little to be killed mid-batch: ${first.stderr.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    expect(await first.exit).to.deep.equal({ code: null, signal: 'SIGKILL' });

    const atKill: Array<{ id: number | string; status: string; lease_until: string | null }> = await db
      .knex('kmc_messages')
      .select('id', 'status', 'lease_until');
    const inHand = new Set(atKill.filter((r) => r.status === 'sending').map((r) => Number(r.id)));
    const sentAtKill = atKill.filter((r) => done.includes(r.status)).length;
    expect(inHand.size, 'killed with messages in hand').to.be.greaterThan(0);
    expect(sentAtKill, 'killed before the end').to.be.below(messages.length);

    // The restarted worker may only take them back once their lease has run out.
    const leaseEnd = Math.max(
      ...atKill.filter((r) => r.lease_until).map((r) => new Date(r.lease_until!.replace(' ', 'T') + 'Z').getTime()),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, leaseEnd - Date.now()) + 100));

    const second = startWorker(env, children);
    const exit = await second.exit;
    expect(exit, second.stderr.join('')).to.deep.equal({ code: 0, signal: null });
    const stats = JSON.parse(second.stdout.join('').trim());
    expect(stats.sent).to.equal(messages.length - sentAtKill);
    expect(stats.failed).to.equal(0);

    expect(await count('sent')).to.equal(messages.length);
    const sentEvents: Array<{ message_id: number; n: number | string }> = await db
      .knex('kmc_message_events')
      .whereIn('status', done)
      .groupBy('message_id')
      .select('message_id')
      .count({ n: '*' });
    expect(sentEvents.filter((e) => Number(e.n) === 1)).to.have.length(messages.length);

    // The print folder's spool notes each letter handed over, one line a time.
    const spool = path.join(printDir, '.spool');
    const noted = readdirSync(spool)
      .flatMap((day) => readdirSync(path.join(spool, day)).map((f) => readFileSync(path.join(spool, day, f), 'utf8')))
      .join('')
      .split('\n');
    let twice = 0;
    for (const m of messages) {
      const id = idByText.get(m.text)!;
      let seen: number;
      if (m.channel === 'sms') seen = smsc.messagesWithText(m.text).length;
      else if (m.channel === 'email') seen = smtp.messages.filter((c) => c.envelopeTo.includes(m.to!)).length;
      else seen = noted.filter((l) => l === String(id)).length;
      expect(seen, `${m.text}: at least once`).to.be.at.least(1);
      if (inHand.has(id)) {
        expect(seen, `${m.text} was in hand: at most twice`).to.be.at.most(2);
        if (seen === 2) {
          twice += 1;
          const history = await store.events(id);
          expect(
            history.some((e) => e.status === 'pending' && /^lease expired/.test(e.detail ?? '')),
            `${m.text}: its lease expired`,
          ).to.equal(true);
        }
      } else {
        expect(seen, `${m.text} was not in hand: exactly once`).to.equal(1);
      }
    }
    expect(twice).to.be.at.most(inHand.size);
    // What staff print has each letter once, however often it was handed over: one page each.
    const pdfs = readdirSync(printDir)
      .filter((d) => d !== '.spool')
      .flatMap((day) => readdirSync(path.join(printDir, day)).map((f) => path.join(printDir, day, f)));
    expect(
      pdfs.every((f) => f.endsWith('.pdf')),
      pdfs.join(', '),
    ).to.equal(true);
    let pages = 0;
    for (const f of pdfs) pages += (await pdfPages(readFileSync(f))).length;
    expect(pages).to.equal(messages.filter((m) => m.channel === 'print').length);
    expect(existsSync(printDir)).to.equal(true);
  });

  it('SIGTERM stops it gracefully: in-flight sends are recorded, the rest goes straight back, nothing twice', async () => {
    const { db, smsc } = world;
    const messages = Array.from({ length: 150 }, (_, i) => message(1000 + i, 'sms'));
    const store = new MessageStore(db.knex);
    const { ids } = await store.insertMessages(messages, new Date(), 'test');
    smsc.reset();
    smsc.setResponseDelay(40);
    const env = workerEnv(world, {
      KMC_DELIVERY_BATCH: '25',
    });
    const sentSoFar = async () =>
      Number(
        ((await db.knex('kmc_messages').whereIn('id', ids).where({ status: 'sent' }).count({ n: '*' }).first()) as { n: number | string })
          .n,
      );
    const run = startWorker(env, children);
    const deadline = Date.now() + 30_000;
    while ((await sentSoFar()) < 20) {
      if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`the worker was not mid-batch: ${run.stderr.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    run.child.kill('SIGTERM');
    const exit = await run.exit;
    expect(exit, run.stderr.join('')).to.deep.equal({ code: 0, signal: null });
    const stats = JSON.parse(run.stdout.join('').trim());

    const rows: Array<{ id: number; status: string; body_text: string }> = await db
      .knex('kmc_messages')
      .whereIn('id', ids)
      .select('id', 'status', 'body_text');
    expect(
      rows.filter((r) => r.status === 'sending'),
      'nothing left in sending',
    ).to.have.length(0);
    const sent = rows.filter((r) => r.status === 'sent');
    const pending = rows.filter((r) => r.status === 'pending');
    expect(sent.length + pending.length).to.equal(messages.length);
    expect(pending.length, 'stopped before the end').to.be.greaterThan(0);
    expect(stats.sent).to.equal(sent.length);
    // Everything the SMSC took is recorded as sent; nothing it did not take is.
    for (const r of sent) expect(smsc.messagesWithText(r.body_text), r.body_text).to.have.length(1);
    for (const r of pending) expect(smsc.messagesWithText(r.body_text), r.body_text).to.have.length(0);
    const returned = await db
      .knex('kmc_message_events')
      .whereIn(
        'message_id',
        pending.map((r) => r.id),
      )
      .where({ detail: 'returned to the queue unsent: the worker is stopping' });
    expect(returned.length).to.be.greaterThan(0);
  });
});
