/**
 * Sending limits applied by the delivery worker, with the real SMTP capture
 * server and a clock the test moves: a domain limited to 60 a minute (in
 * the shape of Koha's message_domain_limits) gets no more than that in any
 * minute, its held-back notices go back in the queue without spending an
 * attempt and with the reason in their history, and notices to other
 * domains all go in the first pass.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { deliveryWorld } from './delivery-support';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import type { NewMessage } from '../../sidecar/queue';
import { SendCountStore } from '../../sidecar/delivery';

const MINUTE = 60_000;

function email(i: number, to: string): NewMessage {
  return {
    idempotencyKey: `test:pace:${String(i)}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 7000 + i,
    branchcode: 'CPL',
    channel: 'email',
    status: 'pending',
    to,
    from: 'library@library.example.org',
    lang: 'en',
    subject: `Notice ${String(i)}`,
    text: `Notice ${String(i)}`,
    html: null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
  };
}

describe(`sending limits in the delivery worker (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  const world = deliveryWorld('pace');

  it('a domain limited to 60 a minute never gets more, and does not delay the other domains', async () => {
    const clock = new TestClock(new Date('2026-11-02T08:00:00Z'));
    const kmc = testServices(
      testSettings(world.db.url, {
        KMC_SMTP_URL: world.smtp.url,
        KMC_MESSAGE_DOMAIN_LIMITS: `<message_domain_limits>
          <domain><name>slow.example.net</name><limit>60</limit><unit>1m</unit></domain>
          <domain><name>also-slow.example.net</name><belongs_to>slow.example.net</belongs_to></domain>
        </message_domain_limits>`,
      }),
      clock,
    );
    try {
      await kmc.startChannels();
      // Interleaved, so the limited domain's notices come first in every batch.
      const messages: NewMessage[] = [];
      for (let i = 0; i < 300; i += 1) {
        messages.push(email(2 * i, `patron${String(i)}@${i % 5 === 0 ? 'also-slow' : 'slow'}.example.net`));
        messages.push(email(2 * i + 1, `patron${String(i)}@other${String(i % 7)}.example.org`));
      }
      const { ids } = await kmc.store.insertMessages(messages, clock.now(), 'test');
      const limited = ids.filter((_, i) => i % 2 === 0);
      const others = ids.filter((_, i) => i % 2 === 1);
      const statuses = async (of: number[]) => Promise.all(of.map(async (id) => (await kmc.store.get(id))!.status));

      // The first pass: every other domain's notice, and 60 of the limited one's.
      const first = await kmc.worker.deliverOnce();
      expect(first).to.include({ sent: 360, failed: 0, retried: 0, heldBack: 240 });
      expect(await statuses(others)).to.deep.equal(Array(300).fill('sent'));
      expect((await statuses(limited)).filter((s) => s === 'sent')).to.have.length(60);

      // A held-back notice: back in the queue for when the limit allows, its attempt given back, the reason in its history.
      const waiting = (await Promise.all(limited.map(async (id) => (await kmc.store.get(id))!))).filter((r) => r.status === 'pending');
      expect(waiting).to.have.length(240);
      for (const r of waiting) expect(r.attempts).to.equal(0);
      const history = await kmc.store.events(waiting[0].id);
      expect(history.at(-1)?.detail).to.match(
        /^held back by the limit of 60 messages per 1m to slow\.example\.net.*; next attempt at 2026-11-02T08:01:00\.000Z$/,
      );

      // Passes a minute apart until the limited domain is done; nothing may go early.
      expect(await kmc.worker.deliverOnce()).to.include({ sent: 0, claimed: 0 });
      for (let pass = 0; pass < 10 && (await statuses(limited)).some((s) => s !== 'sent'); pass += 1) {
        clock.advance(MINUTE);
        const stats = await kmc.worker.deliverOnce();
        expect(stats.sent).to.equal(60);
      }
      expect(await statuses(limited)).to.deep.equal(Array(300).fill('sent'));
      expect(world.smtp.messages).to.have.length(600);

      // Counted by the test clock: no span of a minute holds more than 60 sends to the limited domain.
      const sentAt: number[] = [];
      for (const id of limited) {
        const sent = (await kmc.store.events(id)).filter((e) => e.status === 'sent');
        expect(sent).to.have.length(1);
        sentAt.push(new Date(sent[0].at).getTime());
      }
      sentAt.sort((a, b) => a - b);
      for (const [i, t] of sentAt.entries()) {
        const inMinute = sentAt.slice(i).filter((u) => u < t + MINUTE).length;
        expect(inMinute, `sends in the minute from ${new Date(t).toISOString()}`).to.be.at.most(60);
      }
      for (const r of await Promise.all(limited.map(async (id) => (await kmc.store.get(id))!))) expect(r.attempts).to.equal(1);
    } finally {
      await kmc.close();
    }
  });

  it('two workers sharing the queue, and a worker started again, keep within the limit together (kmc_send_counts)', async () => {
    const clock = new TestClock(new Date('2026-11-03T08:00:00Z'));
    const settings = testSettings(world.db.url, {
      KMC_SMTP_URL: world.smtp.url,
      KMC_MESSAGE_DOMAIN_LIMITS:
        '<message_domain_limits><domain><name>shared.example.net</name><limit>60</limit><unit>1m</unit></domain></message_domain_limits>',
    });
    const one = testServices(settings, clock, { workerId: 'worker-one' });
    const two = testServices(settings, clock, { workerId: 'worker-two' });
    let again: ReturnType<typeof testServices> | null = null;
    try {
      await Promise.all([one.startChannels(), two.startChannels()]);
      const messages: NewMessage[] = [];
      for (let i = 0; i < 300; i += 1) {
        messages.push(email(10_000 + 2 * i, `reader${String(i)}@shared.example.net`));
        messages.push(email(10_000 + 2 * i + 1, `reader${String(i)}@elsewhere${String(i % 7)}.example.org`));
      }
      const { ids } = await one.store.insertMessages(messages, clock.now(), 'test');
      const limited = ids.filter((_, i) => i % 2 === 0);
      const others = ids.filter((_, i) => i % 2 === 1);
      const sentOf = async (of: number[]) =>
        (await Promise.all(of.map(async (id) => (await one.store.get(id))!.status))).filter((s) => s === 'sent').length;
      const toShared = () => world.smtp.messages.filter((m) => m.envelopeTo.some((t) => t.endsWith('@shared.example.net'))).length;

      // Both workers at once: between them 60 to the limited domain in this minute, and every other notice.
      const [a, b] = await Promise.all([one.worker.deliverOnce(), two.worker.deliverOnce()]);
      expect(a.sent + b.sent).to.equal(360);
      expect(a.claimed, 'both workers took part').to.be.greaterThan(0);
      expect(b.claimed, 'both workers took part').to.be.greaterThan(0);
      expect(await sentOf(others)).to.equal(300);
      expect(await sentOf(limited)).to.equal(60);
      expect(toShared()).to.equal(60);
      expect(await new SendCountStore(world.db.knex).count('domain:shared.example.net', clock.now())).to.equal(60);

      // A worker started afresh within the same minute (no memory of the sends) sends none of new notices there.
      const more = (
        await one.store.insertMessages(
          Array.from({ length: 20 }, (_, i) => email(20_000 + i, `late${String(i)}@shared.example.net`)),
          clock.now(),
          'test',
        )
      ).ids;
      again = testServices(settings, clock, { workerId: 'worker-again' });
      await again.startChannels();
      expect(await again.worker.deliverOnce()).to.include({ sent: 0, heldBack: 20 });
      expect(toShared()).to.equal(60);

      // The next minutes: 60 a minute between the workers, until all are sent.
      for (let minute = 1; minute <= 5; minute += 1) {
        clock.advance(MINUTE);
        const [x, y] = await Promise.all([one.worker.deliverOnce(), two.worker.deliverOnce()]);
        expect(x.sent + y.sent, `minute ${String(minute)}`).to.equal(minute < 5 ? 60 : 20);
      }
      expect(await sentOf([...limited, ...more])).to.equal(320);
      // Counted by the test clock: no minute got more than 60 sends to the limited domain.
      const perMinute = new Map<number, number>();
      for (const id of [...limited, ...more]) {
        const sent = (await one.store.events(id)).filter((e) => e.status === 'sent');
        expect(sent).to.have.length(1);
        const minute = Math.floor(new Date(sent[0].at).getTime() / MINUTE);
        perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
      }
      expect([...perMinute.entries()].sort((x, y) => x[0] - y[0]).map(([, n]) => n)).to.deep.equal([60, 60, 60, 60, 60, 20]);
    } finally {
      await Promise.all([one.close(), two.close(), again?.close()]);
    }
  });
});
