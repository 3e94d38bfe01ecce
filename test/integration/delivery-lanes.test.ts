/**
 * One worker, several channels: a channel whose sends are slow to come back
 * (an SMSC that does not answer, letters rendered to PDF) must not hold back
 * the claims of the others. Real SMTP server, real SMSC, `kmc`'s own worker.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import type { NewMessage } from '../../sidecar/queue';
import { deliveryWorld, smsMessage, until } from './delivery-support';

function email(i: number): NewMessage {
  return {
    ...smsMessage('unused'),
    idempotencyKey: `test:lanes:email:${i}`,
    channel: 'email',
    to: `patron${i}@example.org`,
    from: 'central@bibliotek.example.org',
    subject: `Overdue ${i}`,
    text: 'Please return your loans.',
  };
}

describe(`delivery lanes (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  const world = deliveryWorld('delivlanes');

  it('claims and sends e-mail while a backlog of SMS waits on an SMSC that answers nothing', async () => {
    const clock = new TestClock(new Date('2026-11-24T08:00:00Z'));
    const kmc = testServices(
      testSettings(world.db.url, {
        KMC_SMTP_URL: world.smtp.url,
        KMC_SMPP_URL: world.smsc.url,
        KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
        // Unanswered submits hold the SMS window for this long.
        KMC_SMPP_PDU_TIMEOUT_MS: '20000',
        KMC_PRINT_DIR: world.printDir,
        // Batches smaller than the SMS backlog, so the SMS lane stays full.
        KMC_DELIVERY_BATCH: '40',
      }),
      clock,
    );
    try {
      await kmc.startChannels();
      world.smsc.ignoreNextSubmits(10_000);
      // The SMS first: the claim order (due time, id) puts a whole batch of them ahead of the e-mail.
      await kmc.store.insertMessages(
        Array.from({ length: 150 }, () => smsMessage('Your loans are overdue.', { from: 'KohaLib' })),
        clock.now(),
        'test',
      );
      await kmc.store.insertMessages(
        Array.from({ length: 30 }, (_, i) => email(i)),
        clock.now(),
        'test',
      );
      const run = kmc.worker.deliverOnce();
      // Held back behind the SMS, the e-mail would wait at least for the submits' time-out (20 s).
      await until('every e-mail at the SMTP server', () => world.smtp.messages.length >= 30, 8_000);
      expect(world.smsc.submits).to.have.length(10);
      expect(world.smsc.submits.every((s) => !s.answered)).to.equal(true);
      const sent = await world.db.knex('kmc_messages').where({ channel: 'email', status: 'sent' }).count({ n: '*' });
      expect(Number(sent[0].n)).to.be.at.least(1);
      // The SMS in flight come back as retries once their connection is gone.
      world.smsc.dropConnections();
      await kmc.worker.stop();
      await run;
      expect(await world.db.knex('kmc_messages').where({ channel: 'email' }).whereNot('status', 'sent').count({ n: '*' })).to.deep.equal([
        { n: 0 },
      ]);
    } finally {
      world.smsc.reset();
      await kmc.close();
    }
  });
});
