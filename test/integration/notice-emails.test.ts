import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';

/** What each language's mail must end with before the branch's name. */
const SIGN_OFF: Record<string, string> = {
  en: 'Kind regards',
  sv: 'Med vänliga hälsningar',
  da: 'Venlig hilsen',
  de: 'Mit freundlichen Grüßen',
};

describe(`notice e-mails in every language: sender, reply-to, layout, items table, sign-off (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  let kmc: App;

  before(async () => {
    db = await createKohaDatabase('notice_emails');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    // Every notice language by e-mail: Søren (Danish) gets an address, Anna a usable one and English.
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.soren }).update({ email: 'soren@example.dk' });
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.anna }).update({ email: 'anna.lund@example.org', lang: 'en' });
    smtp = new MailCapture();
    await smtp.start();
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url }), new TestClock(new Date('2026-11-24T05:00:00Z')));
    await kmc.startChannels();
    const result = await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    expect(result.byChannel).to.deep.equal({ email: 4 });
    await kmc.worker.deliverOnce();
  });

  after(async () => {
    await kmc.close();
    await smtp.stop();
    await db.drop();
  });

  const mailTo = (address: string) => {
    const found = smtp.messages.find((m) => m.envelopeTo.includes(address));
    expect(found, `a mail to ${address}`).to.exist;
    return found!;
  };

  const cases = [
    {
      lang: 'sv',
      to: 'asa.oberg@example.org',
      branch: 'Centralbiblioteket',
      address: 'central@bibliotek.example.org',
      items: ['Röda rummet', 'Gösta Berlings saga'],
    },
    {
      lang: 'de',
      to: 'juergen.mueller@example.net',
      branch: 'Stadtbibliothek am Hafen',
      address: 'hafen@stadtbibliothek.example.net',
      items: ['Der Zauberberg'],
    },
    { lang: 'da', to: 'soren@example.dk', branch: 'Centralbiblioteket', address: 'central@bibliotek.example.org', items: null },
    { lang: 'en', to: 'anna.lund@example.org', branch: 'Centralbiblioteket', address: 'central@bibliotek.example.org', items: null },
  ];

  for (const c of cases) {
    it(`${c.lang}: From and Reply-To name the branch, the HTML has a row per item in a table layout, and the mail signs off`, async () => {
      const mail = mailTo(c.to).parsed;
      expect(mail.from?.value[0]).to.deep.equal({ name: c.branch, address: c.address });
      expect(mail.replyTo?.value[0]).to.deep.equal({ name: c.branch, address: c.address });
      const stored = await db.knex('kmc_messages').where({ to_address: c.to }).first();
      expect(stored.lang).to.equal(c.lang);
      const covered = await db.knex('kmc_message_items').where({ message_id: stored.id }).pluck('title');
      expect(covered.length).to.be.greaterThan(0);
      if (c.items) expect(covered.sort()).to.deep.equal([...c.items].sort());

      const html = String(mail.html);
      expect(html).to.match(new RegExp(`<html lang="${c.lang}">`));
      // The layout is tables with inline styles, no <style> block mail programs would drop.
      expect(html).to.contain('role="presentation"').and.not.contain('<style');
      const rows = html.match(/<tr><td valign="top"[^>]*>[^<]*<\/td>/g) ?? [];
      expect(rows).to.have.length(covered.length);
      for (const title of covered) expect(html).to.contain(`>${title}</td>`);

      expect(html).to.contain(SIGN_OFF[c.lang]);
      expect(mail.text).to.match(new RegExp(`${SIGN_OFF[c.lang]}\\n${c.branch}`));
    });
  }
});
