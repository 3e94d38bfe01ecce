/**
 * The addresses a notice is sent from, end to end with a real database and a
 * real SMTP server: a sender from Koha with a line break in it never reaches
 * the mail (no Bcc, no copy to the address smuggled in, no Message-ID on its
 * domain); each step of the sender chain; a stored message whose sender is
 * refused fails unsent with the reason.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';

const INJECTED = 'x@y\r\nBcc: victim@evil.example';

describe(`the sender addresses of e-mail notices (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  let kmc: App | null;

  beforeEach(async () => {
    db = await createKohaDatabase('senders');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
    kmc = null;
  });

  afterEach(async () => {
    await kmc?.close();
    await smtp.stop();
    await db.drop();
  });

  const start = async (env: Record<string, string> = {}) => {
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url, ...env }), new TestClock(new Date('2026-11-24T05:00:00Z')));
    await kmc.startChannels();
    return kmc;
  };
  const run = (app: App) => runNotices(app.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
  const cpl = (fields: Record<string, string | null>) => db.knex('branches').where({ branchcode: 'CPL' }).update(fields);
  const asaMessage = () => db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first();

  for (const injected of [INJECTED, 'ffl@bib.example\r\nBcc: victim@evil.example']) {
    it(`a branch address with a header smuggled in (${JSON.stringify(injected)}) is passed over: no Bcc, no copy, no Message-ID on its domain`, async () => {
      await cpl({ branchemail: injected, branchreplyto: injected, branchreturnpath: injected });
      await lib.builder.systemPreference('KohaAdminEmailAddress', 'admin@koha.example.org');
      const app = await start();
      await run(app);
      const stored = await asaMessage();
      // The header From carries the branch's name; replies go to the branch's sender when no reply-to passes.
      expect(stored.from_address).to.equal('Centralbiblioteket <admin@koha.example.org>');
      expect(stored.reply_to).to.equal('Centralbiblioteket <admin@koha.example.org>');

      const stats = await app.worker.deliverOnce();
      expect(stats).to.include({ failed: 0 });
      expect(smtp.messages.length).to.be.greaterThan(0);
      for (const m of smtp.messages) {
        expect(m.envelopeTo).to.not.include('victim@evil.example');
        expect(m.raw).to.not.match(/^bcc:/im);
        expect(m.raw).to.not.contain('evil.example');
      }
      const toAsa = smtp.messages.find((m) => m.envelopeTo.includes('asa.oberg@example.org'))!;
      expect(toAsa.parsed.from?.value[0]?.address).to.equal('admin@koha.example.org');
      // The return path is the sender's own, tagged with the message (VERP).
      expect(toAsa.envelopeFrom).to.match(/^admin\+bounce-\d+\.[a-z0-9]+@koha\.example\.org$/);
      expect(toAsa.parsed.messageId).to.match(/@koha\.example\.org>$/);
      expect((await asaMessage()).status).to.equal('sent');
    });
  }

  it('the sender: the branch record, then KohaAdminEmailAddress, then KMC_MAIL_FROM; the reply-to: the branch record, then ReplytoDefault', async () => {
    await cpl({ branchreplyto: 'svar@bibliotek.example.org' });
    await lib.builder.systemPreference('KohaAdminEmailAddress', 'admin@koha.example.org');
    await lib.builder.systemPreference('ReplytoDefault', 'replies@koha.example.org');
    const steps: Array<{ prepare: () => Promise<unknown>; from: string; replyTo: string }> = [
      // Without a reply-to that passes the check, replies go to the sender: Reply-To always names the branch.
      { prepare: () => Promise.resolve(), from: 'central@bibliotek.example.org', replyTo: 'svar@bibliotek.example.org' },
      { prepare: () => cpl({ branchemail: '', branchreplyto: null }), from: 'admin@koha.example.org', replyTo: 'replies@koha.example.org' },
      {
        prepare: () =>
          Promise.all([
            lib.builder.systemPreference('KohaAdminEmailAddress', ''),
            lib.builder.systemPreference('ReplytoDefault', 'Replies <replies@koha.example.org>'),
          ]),
        from: 'notices@kmc.example.org',
        replyTo: 'notices@kmc.example.org',
      },
    ];
    for (const step of steps) {
      await step.prepare();
      await db.knex('kmc_message_items').delete();
      await db.knex('kmc_message_events').delete();
      await db.knex('kmc_messages').delete();
      const app = await start({ KMC_MAIL_FROM: 'notices@kmc.example.org' });
      await run(app);
      const stored = await asaMessage();
      const named = (address: string) => `Centralbiblioteket <${address}>`;
      expect([stored.from_address, stored.reply_to], step.from).to.deep.equal([named(step.from), named(step.replyTo)]);
      smtp.messages.length = 0;
      await app.worker.deliverOnce();
      const toAsa = smtp.messages.find((m) => m.envelopeTo.includes('asa.oberg@example.org'))!;
      const [local, domain] = step.from.split('@');
      expect(toAsa.envelopeFrom.startsWith(`${local}+bounce-`) && toAsa.envelopeFrom.endsWith(`@${domain}`), toAsa.envelopeFrom).to.equal(
        true,
      );
      expect(toAsa.parsed.from?.value[0]?.address).to.equal(step.from);
      expect(toAsa.parsed.from?.value[0]?.name).to.equal('Centralbiblioteket');
      expect(toAsa.parsed.replyTo?.value[0]).to.deep.equal({ name: 'Centralbiblioteket', address: step.replyTo });
      await app.close();
      kmc = null;
    }
  });

  it("the sidecar's own branch setting comes before Koha's branch record", async () => {
    await lib.builder.systemPreference('KohaAdminEmailAddress', 'admin@koha.example.org');
    await db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sender_email: 'egen@bibliotek.example.org' });
    const app = await start();
    await run(app);
    expect((await asaMessage()).from_address).to.equal('Centralbiblioteket <egen@bibliotek.example.org>');
  });

  it('a queued message whose sender is refused fails unsent, with the reason; the others go', async () => {
    const app = await start();
    await run(app);
    const asa = await asaMessage();
    await db.knex('kmc_messages').where({ id: asa.id }).update({ from_address: INJECTED });
    await app.worker.deliverOnce();
    const after = await asaMessage();
    expect(after.status).to.equal('failed');
    const detail = await db.knex('kmc_message_events').where({ message_id: asa.id, status: 'failed' }).first();
    expect(JSON.stringify(detail)).to.contain('EMAIL_INVALID_SENDER').and.contain('line break');
    expect(smtp.messages.flatMap((m) => m.envelopeTo)).to.not.include('asa.oberg@example.org');
    expect(smtp.messages.flatMap((m) => m.envelopeTo)).to.not.include('victim@evil.example');
    expect(smtp.messages.flatMap((m) => m.envelopeTo)).to.include('juergen.mueller@example.net');
  });
});
