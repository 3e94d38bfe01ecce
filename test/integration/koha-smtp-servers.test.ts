/**
 * Koha's own SMTP servers: a library Koha links to a server
 * (library_smtp_servers) sends its e-mail through it; the others through the
 * server Koha marks as default; KMC_SMTP_URL only when Koha names none.
 * Real capture SMTP servers on loopback, real delivery.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { engineWorld, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';

describe(`Koha's SMTP servers per library (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let serverA: MailCapture;
  let serverDefault: MailCapture;
  let fallback: MailCapture;

  beforeEach(async () => {
    serverA = new MailCapture();
    serverDefault = new MailCapture();
    fallback = new MailCapture();
    await Promise.all([serverA.start(), serverDefault.start(), fallback.start()]);
    w = await engineWorld('smtpservers', { now: `${RUN_DAY}T07:00:00Z`, env: { KMC_SMTP_URL: fallback.url } });
    const { k, db } = w;
    await k.branch({ code: 'ALM', name: 'Almby bibliotek', email: 'almby@bibliotek.example.org' });
    await k.branch({ code: 'BRO', name: 'Broby bibliotek', email: 'broby@bibliotek.example.org' });
    await k.category({ code: 'PT', description: 'Vuxen' });
    await k.itemtype({ code: 'BK', description: 'Bok' });
    for (const [branchcode, name] of [
      ['ALM', 'alva'],
      ['BRO', 'bruno'],
    ]) {
      const p = await k.patron({
        surname: name,
        firstname: name,
        email: `${name}@example.org`,
        branchcode,
        categorycode: 'PT',
        lang: 'en',
      });
      const record = await k.biblio({ title: `A book for ${name}`, author: 'Writer, A', itemtype: 'BK' });
      const item = await k.item({ biblionumber: record, homebranch: branchcode, itype: 'BK' });
      await k.loan({ borrowernumber: p, itemnumber: item, dateDue: '2026-11-10', branchcode });
    }
    await db
      .knex('kmc_rules')
      .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
      .update({ is_used: 1, delay_days: 7, channels: 'email' });
  });

  afterEach(async () => {
    await w.close();
    await Promise.all([serverA.stop(), serverDefault.stop(), fallback.stop()]);
  });

  const sendAll = async () => {
    const result = await runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    expect(result.created).to.equal(2);
    await w.kmc.startChannels();
    const stats = await w.kmc.worker.deliverOnce();
    expect(stats).to.include({ claimed: 2 });
  };
  const recipients = (s: MailCapture) => s.messages.flatMap((m) => m.envelopeTo).sort();

  it("a library's own server takes its mail; the others go through Koha's default", async () => {
    await w.k.smtpServer({ name: 'Almby relay', host: '127.0.0.1', port: serverA.port, sslMode: 'disabled', branches: ['ALM'] });
    await w.k.smtpServer({ name: 'Kommunens relä', host: '127.0.0.1', port: serverDefault.port, sslMode: 'disabled', isDefault: true });
    await sendAll();
    expect(recipients(serverA)).to.deep.equal(['alva@example.org']);
    expect(recipients(serverDefault)).to.deep.equal(['bruno@example.org']);
    expect(fallback.messages).to.have.length(0);
  });

  it('without a default, a library Koha names no server for goes through KMC_SMTP_URL', async () => {
    await w.k.smtpServer({ name: 'Almby relay', host: '127.0.0.1', port: serverA.port, sslMode: 'disabled', branches: ['ALM'] });
    await sendAll();
    expect(recipients(serverA)).to.deep.equal(['alva@example.org']);
    expect(recipients(fallback)).to.deep.equal(['bruno@example.org']);
    expect(serverDefault.messages).to.have.length(0);
  });

  it('with no server in Koha at all, every mail goes through KMC_SMTP_URL', async () => {
    await sendAll();
    expect(recipients(fallback)).to.deep.equal(['alva@example.org', 'bruno@example.org']);
  });
});
