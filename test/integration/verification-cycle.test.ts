import { expect } from 'chai';
import { pdfPages } from '../support/pdf';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import express from 'express';
import nunjucks from 'nunjucks';
import request from 'supertest';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { fromDbTime, migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture, type CapturedMail } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';
import { verificationPages, verificationApi, apiErrorHandler } from '../../sidecar/web';
import { TestSmsc } from '../support/smsc';

const PAGE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'pages');
const PUBLIC_URL = 'https://bibliotek.example.org/kmc';
/** Links to a public address are signed with a secret of the library's own. */
const SECRET = 'the verification links of this library are signed with this';
const DAY = 86_400_000;

/** The link's token as the patron receives it: taken from the mail the SMTP server got. */
function tokenFrom(mail: CapturedMail): string {
  const text = mail.parsed.text ?? '';
  const m = /https:\/\/bibliotek\.example\.org\/kmc\/verify\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/.exec(text);
  if (!m) throw new Error(`no verification link in the mail: ${text}`);
  return m[1];
}

describe(`e-mail verification: scan, link, gate, expiry (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  let clock: TestClock;
  let kmc: App & { logs: { lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> } };
  let app: express.Express;

  beforeEach(async () => {
    db = await createKohaDatabase('verify');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url, KMC_PUBLIC_URL: PUBLIC_URL, KMC_SECRET: SECRET }), clock);
    await kmc.startChannels();
    const pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGE_DIR), { autoescape: true });
    const web = { service: kmc.verification, limiter: kmc.verificationLimiter, logger: kmc.logger };
    app = express();
    app.use(verificationPages(web, pages));
    app.use('/api', verificationApi(web));
    app.use(apiErrorHandler(web.logger));
  });

  afterEach(async () => {
    await kmc.close();
    await smtp.stop();
    await db.drop();
  });

  const overdue = (date = RUN_DAY) => runNotices(kmc.notices, { type: 'overdue', date, startedBy: 'test' });
  const message = (borrowernumber: number, type = 'overdue') =>
    db.knex('kmc_messages').where({ borrowernumber, message_type: type }).orderBy('id', 'desc').first();
  const record = (borrowernumber: number) => db.knex('kmc_email_verifications').where({ borrowernumber }).first();
  const setEmail = (borrowernumber: number, email: string | null) => db.knex('borrowers').where({ borrowernumber }).update({ email });
  const mailsTo = (address: string) => smtp.messages.filter((m) => m.envelopeTo.includes(address));

  it('the first scan takes the addresses already in Koha as verified and sends nothing', async () => {
    const first = await kmc.verification.scan();
    expect(first).to.include({ baseline: true, linksSent: 0, verified: 4 });
    // Anna's only address is malformed: recorded as having none usable.
    expect(first.noAddress).to.equal(1);
    expect(await db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    const asa = await record(lib.patrons.asa);
    expect(asa).to.include({ email: 'asa.oberg@example.org', state: 'verified', verified_by: 'existing address (first scan)' });
    expect(await db.knex('kmc_settings').where({ name: 'verification_baseline_at' }).first()).to.be.an('object');

    // Nothing changed since: the database reports nobody, and nothing is held.
    const second = await kmc.verification.scan();
    expect(second).to.include({ baseline: false, checked: 0, linksSent: 0 });
    const run = await overdue();
    expect(run.byStatus).to.deep.equal({ pending: 4 });
  });

  it('before the first scan every address is usable: the gate holds nothing', async () => {
    const run = await overdue();
    expect(run.byStatus).to.deep.equal({ pending: 4 });
  });

  it('whole cycle: a changed address gets a link by mail, notices wait, the link from the mail verifies it, the notices go out', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');

    // The overdue run comes before the scan has seen the change: the notice waits.
    const run = await overdue();
    expect(run.byStatus).to.deep.equal({ held: 1, pending: 3 });
    const held = await message(lib.patrons.asa);
    expect(held).to.include({ channel: 'email', status: 'held', to_address: 'asa.ny@example.org' });

    const scan = await kmc.verification.scan();
    expect(scan).to.include({ checked: 1, linksSent: 1 });
    const rec = await record(lib.patrons.asa);
    expect(rec).to.include({ state: 'pending', email: 'asa.ny@example.org', token_version: 1 });
    expect(rec.token_hash).to.match(/^[0-9a-f]{64}$/);
    expect(fromDbTime(rec.expires_at)!.getTime() - clock.now().getTime()).to.equal(3 * DAY);

    const stats = await kmc.worker.deliverOnce();
    expect(stats.held).to.equal(1);
    const [mail] = mailsTo('asa.ny@example.org');
    expect(mailsTo('asa.ny@example.org')).to.have.length(1);
    // In the patron's language, from the patron's branch, naming no patron.
    expect(mail.parsed.subject).to.equal('Bekräfta din e-postadress hos Centralbiblioteket');
    // The return path is the message's own (VERP on the branch's sender); the From is the branch's.
    expect(mail.envelopeFrom).to.match(/^central\+bounce-\d+\.[a-z2-7]{8}@bibliotek\.example\.org$/);
    expect(mail.parsed.from?.value[0].address).to.equal('central@bibliotek.example.org');
    expect(mail.parsed.text).not.to.contain('Åsa').and.not.to.contain('Öberg');
    expect(String(mail.parsed.html)).to.contain('href="https://bibliotek.example.org/kmc/verify/');
    const token = tokenFrom(mail);
    expect(Buffer.from(token.split('.')[0], 'base64url').length * 8).to.be.at.least(128);
    // Only a hash of the link is kept, never the link.
    const stored = await db.knex('kmc_email_verifications').where('token_hash', token).first();
    expect(stored).to.equal(undefined);

    // A mail scanner following the link (GET) verifies nothing.
    // The page speaks the browser's language (Åsa's asks for Swedish) until the link has worked.
    const page = await request(app).get(`/verify/${token}`).set('Accept-Language', 'sv-SE,sv;q=0.9,en;q=0.5');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('<html lang="sv">').and.contain('<form method="post">').and.contain('Bekräfta min e-postadress');
    expect(page.text).not.to.contain('asa.ny@example.org').and.not.to.contain('Åsa').and.not.to.contain('Öberg');
    expect(page.text).not.to.contain('<script');
    expect(page.headers['cache-control']).to.equal('no-store');
    expect((await record(lib.patrons.asa)).state).to.equal('pending');
    expect((await message(lib.patrons.asa)).status).to.equal('held');

    const done = await request(app).post(`/verify/${token}`);
    expect(done.status).to.equal(200);
    expect(done.text).to.contain('Tack. Din e-postadress är bekräftad.');
    expect(done.text).not.to.contain('asa.ny@example.org');
    // Released in the same request.
    const released = await message(lib.patrons.asa);
    expect(released).to.include({ status: 'pending', to_address: 'asa.ny@example.org' });
    expect(await record(lib.patrons.asa)).to.include({ state: 'verified', verified_by: 'patron (link)' });
    const events = await db.knex('kmc_message_events').where({ message_id: released.id }).orderBy('id').select('status', 'detail');
    expect(events.map((e) => e.status)).to.deep.equal(['held', 'pending']);
    expect(events[1].detail).to.equal('e-mail address verified');

    const next = await kmc.worker.deliverOnce();
    expect(next).to.include({ sent: 1, held: 0 });
    const notices = mailsTo('asa.ny@example.org').filter((m) => m !== mail);
    expect(notices).to.have.length(1);
    expect(notices[0].parsed.text).to.contain('Röda rummet');

    // Once sent, the archived verification mail no longer holds a working link.
    await kmc.verification.scan();
    const archived = await message(lib.patrons.asa, 'email_verification');
    expect(archived.status).to.equal('sent');
    expect(archived.body_text).not.to.contain(token);
    expect(archived.body_text).to.contain('/verify/[link removed]');
    expect(archived.body_html).not.to.contain(token);
    // Contact data stays out of info logs.
    for (const line of kmc.logs.lines.filter((l) => l.level === 'info'))
      expect(JSON.stringify(line.fields)).not.to.contain('asa.ny@example.org');
  });

  it('a tampered link, a reused link, and an old link after a second change are refused and change nothing', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.jurgen, 'juergen.eins@example.net');
    await kmc.verification.scan();
    await kmc.worker.deliverOnce();
    const first = tokenFrom(mailsTo('juergen.eins@example.net')[0]);

    // Tampered: one character of the random part changed, or the signature cut short.
    const flipped = (first[0] === 'A' ? 'B' : 'A') + first.slice(1);
    for (const bad of [flipped, first.slice(0, -1), `${first}x`, 'nonsense']) {
      const res = await request(app).post(`/verify/${bad}`);
      expect(res.status, bad).to.equal(404);
      // Nobody is known for a wrong link: the page speaks the browser's language (English here).
      expect(res.text).to.contain('This link is not valid');
    }
    expect((await record(lib.patrons.jurgen)).state).to.equal('pending');

    // The address changes again while the first link waits: the first link is worthless.
    await setEmail(lib.patrons.jurgen, 'juergen.zwei@example.net');
    const again = await kmc.verification.scan();
    expect(again.linksSent).to.equal(1);
    expect((await record(lib.patrons.jurgen)).token_version).to.equal(2);
    await kmc.worker.deliverOnce();
    const second = tokenFrom(mailsTo('juergen.zwei@example.net')[0]);
    const old = await request(app).post(`/verify/${first}`);
    expect(old.status).to.equal(404);
    // The first mail went out; its archived copy no longer holds that link either.
    const firstMail = await db
      .knex('kmc_messages')
      .where({ borrowernumber: lib.patrons.jurgen, message_type: 'email_verification', to_address: 'juergen.eins@example.net' })
      .first();
    expect(firstMail.status).to.equal('sent');
    expect(firstMail.body_text).not.to.contain(first);
    expect((await record(lib.patrons.jurgen)).state).to.equal('pending');

    const ok = await request(app).post(`/verify/${second}`);
    expect(ok.status).to.equal(200);
    expect(ok.text).to.contain('<html lang="de">').and.contain('Ihre E-Mail-Adresse ist bestätigt');
    expect(await record(lib.patrons.jurgen)).to.include({ state: 'verified', email: 'juergen.zwei@example.net' });

    // Reused: says so, and does nothing a second time.
    const verifiedAt = (await record(lib.patrons.jurgen)).verified_at;
    clock.advance(60_000);
    const reuse = await request(app).post(`/verify/${second}`).set('Accept-Language', 'de-DE,de;q=0.9');
    expect(reuse.status).to.equal(410);
    expect(reuse.text).to.contain('bereits verwendet');
    expect((await record(lib.patrons.jurgen)).verified_at).to.equal(verifiedAt);
    const reread = await request(app).get(`/verify/${second}`);
    expect(reread.status).to.equal(410);
  });

  it('a second change before the first mail went out cancels that mail: it would carry a worthless link', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.jurgen, 'juergen.eins@example.net');
    await kmc.verification.scan();
    const firstMail = await message(lib.patrons.jurgen, 'email_verification');
    await setEmail(lib.patrons.jurgen, 'juergen.zwei@example.net');
    await kmc.verification.scan();
    const cancelled = await db.knex('kmc_messages').where({ id: firstMail.id }).first();
    expect(cancelled.status).to.equal('cancelled');
    expect(cancelled.body_text).to.contain('/verify/[link removed]');
    await kmc.worker.deliverOnce();
    expect(mailsTo('juergen.eins@example.net')).to.have.length(0);
    expect(mailsTo('juergen.zwei@example.net')).to.have.length(1);
  });

  it('expiry: after the time runs out the address is never used, and the held notice becomes a letter', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.jurgen, 'juergen.neu@example.net');
    await kmc.verification.scan();
    await overdue();
    const held = await message(lib.patrons.jurgen);
    expect(held.status).to.equal('held');
    // It kept the data it was rendered from: the letter is rendered again from that.
    expect(held.render_data).to.be.a('string');
    await kmc.worker.deliverOnce();
    const token = tokenFrom(mailsTo('juergen.neu@example.net')[0]);

    clock.advance(3 * DAY + 60_000);
    // Before any scan has noticed, the link already says it expired, and using it does nothing.
    const late = await request(app).post(`/verify/${token}`).set('Accept-Language', 'de-DE,de;q=0.9');
    expect(late.status).to.equal(410);
    expect(late.text).to.contain('Dieser Link ist abgelaufen');

    const scan = await kmc.verification.scan();
    expect(scan).to.include({ expired: 1, clearedInKoha: 0 });
    expect(scan.fallback).to.deep.equal({ print: 1 });
    expect((await record(lib.patrons.jurgen)).state).to.equal('expired');
    const letter = await message(lib.patrons.jurgen);
    expect(letter).to.include({ channel: 'print', status: 'pending', lang: 'de' });
    expect(letter.body_text).to.contain('Der Zauberberg');
    expect(letter.to_address).to.contain('Müller');
    const events = await db.knex('kmc_message_events').where({ message_id: letter.id }).orderBy('id').pluck('detail');
    expect(events[events.length - 1]).to.equal('the e-mail address expired without being verified: goes by print instead');
    // Clearing the address in Koha is off by default.
    expect((await db.knex('borrowers').where({ borrowernumber: lib.patrons.jurgen }).first()).email).to.equal('juergen.neu@example.net');

    const stats = await kmc.worker.deliverOnce();
    expect(stats.sent).to.be.at.least(1);
    expect((await db.knex('kmc_messages').where({ id: letter.id }).first()).status).to.equal('to_print');
    const file = path.join(kmc.settings.printDir, (await db.knex('kmc_messages').where({ id: letter.id }).first()).provider_id);
    expect(existsSync(file) ? (await pdfPages(readFileSync(file))).join('\n') : '').to.contain('Der Zauberberg');
    expect(mailsTo('juergen.neu@example.net')).to.have.length(1);

    // The expired address is passed over from now on: a new notice goes by letter at once.
    const item = await lib.builder.item({
      biblionumber: await lib.builder.biblio({ title: 'Buddenbrooks', author: 'Mann, Thomas' }),
      homebranch: 'HAF',
      itype: 'BK',
    });
    await lib.builder.loan({ borrowernumber: lib.patrons.jurgen, itemnumber: item, dateDue: '2026-11-18', branchcode: 'HAF' });
    await overdue('2026-11-27');
    const newest = await message(lib.patrons.jurgen);
    expect(newest.id).not.to.equal(letter.id);
    expect(newest).to.include({ channel: 'print', status: 'pending' });
  });

  it('expiry: a held notice that kept no render data is rebuilt from its loans for the letter', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');
    await overdue();
    const held = await message(lib.patrons.asa);
    await db.knex('kmc_messages').where({ id: held.id }).update({ render_data: null });
    await kmc.verification.scan();
    clock.advance(3 * DAY + 1);
    expect((await kmc.verification.scan()).fallback).to.deep.equal({ print: 1 });
    const letter = await db.knex('kmc_messages').where({ id: held.id }).first();
    expect(letter).to.include({ channel: 'print', status: 'pending', lang: 'sv' });
    expect(letter.body_text).to.contain('Hej Åsa Öberg').and.contain('Röda rummet').and.contain('Gösta Berlings saga');
    expect(letter.to_address).to.contain('Ängsvägen 3');
  });

  it('expiry with e-mail as the only allowed channel: the held notice becomes missing_contact with the reason', async () => {
    await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ channels: 'email' });
    await kmc.verification.scan();
    await setEmail(lib.patrons.jurgen, 'juergen.neu@example.net');
    await kmc.verification.scan();
    await overdue();
    clock.advance(4 * DAY);
    const scan = await kmc.verification.scan();
    expect(scan.missingContact).to.equal(1);
    const m = await message(lib.patrons.jurgen);
    expect(m).to.include({ status: 'missing_contact', channel: 'email' });
    expect(m.status_reason).to.contain('address expired without being verified').and.contain('letters not allowed');
  });

  it('with verification_clear_expired_in_koha on, an expired address is cleared in Koha and that is logged at warn', async () => {
    await db.knex('kmc_settings').insert({ name: 'verification_clear_expired_in_koha', value: '1' });
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');
    await kmc.verification.scan();
    clock.advance(3 * DAY + 1);
    const scan = await kmc.verification.scan();
    expect(scan).to.include({ expired: 1, clearedInKoha: 1 });
    // The same scan then sees the address gone from Koha: no usable address, nothing to send.
    expect(scan).to.include({ checked: 1, noAddress: 1, linksSent: 0 });
    expect(await record(lib.patrons.asa)).to.include({ state: 'none', email: '' });
    expect((await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).first()).email).to.equal(null);
    const warn = kmc.logs.lines.find((l) => l.event === 'verification.cleared_in_koha');
    expect(warn).to.deep.include({ level: 'warn' });
    expect(warn!.fields).to.deep.equal({ borrowernumber: lib.patrons.asa, column: 'email' });
    expect((await kmc.verification.scan()).checked).to.equal(0);
  });

  it('exempt categories need no verification, and a patron moved into one has held notices released', async () => {
    await kmc.verification.scan();
    await db.knex('kmc_settings').insert({ name: 'verification_exempt_categories', value: 'KI, IMP' });
    await lib.builder.category({ code: 'IMP', description: 'Importerad', categoryType: 'A', overdueNoticeRequired: true });
    await setEmail(lib.patrons.child, 'lisa.ny@example.org');
    const scan = await kmc.verification.scan();
    expect(scan).to.include({ checked: 1, exempt: 1, linksSent: 0 });
    expect(await record(lib.patrons.child)).to.include({ state: 'exempt', email: 'lisa.ny@example.org', verified_by: 'category KI' });

    // Åsa changes her address and waits for her link; then staff move her to an exempt category.
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');
    await overdue();
    await kmc.verification.scan();
    expect((await message(lib.patrons.asa)).status).to.equal('held');
    const link = await message(lib.patrons.asa, 'email_verification');
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ categorycode: 'IMP' });
    const moved = await kmc.verification.scan();
    expect(moved).to.include({ exempt: 1, released: 1 });
    expect((await message(lib.patrons.asa)).status).to.equal('pending');
    // The link's mail, not yet sent, is not needed any more.
    expect((await db.knex('kmc_messages').where({ id: link.id }).first()).status).to.equal('cancelled');
    expect(mailsTo('asa.ny@example.org')).to.have.length(0);
    await kmc.worker.deliverOnce();
    expect(mailsTo('asa.ny@example.org')).to.have.length(1);
    expect(mailsTo('asa.ny@example.org')[0].parsed.text).to.contain('Röda rummet');
  });

  it('a bad setting stops the scan with the setting named', async () => {
    await db.knex('kmc_settings').insert({ name: 'verification_valid_days', value: 'three' });
    let error: Error | null = null;
    try {
      await kmc.verification.scan();
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.contain('verification_valid_days').and.contain('"three"');
    await db.knex('kmc_settings').where({ name: 'verification_valid_days' }).update({ value: '7' });
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');
    await kmc.verification.scan();
    const rec = await record(lib.patrons.asa);
    expect(fromDbTime(rec.expires_at)!.getTime() - clock.now().getTime()).to.equal(7 * DAY);
  });

  it('an address changed and changed back before any scan: the notice held meanwhile is released by the next scan', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.tillfallig@example.org');
    await overdue();
    expect((await message(lib.patrons.asa)).status).to.equal('held');
    await setEmail(lib.patrons.asa, 'asa.oberg@example.org');
    const scan = await kmc.verification.scan();
    expect(scan).to.include({ checked: 0, linksSent: 0, released: 1 });
    expect(await message(lib.patrons.asa)).to.include({ status: 'pending', to_address: 'asa.oberg@example.org' });
  });

  it('a verification mail is never held by the gate, even while the address waits', async () => {
    await kmc.verification.scan();
    await setEmail(lib.patrons.asa, 'asa.ny@example.org');
    await kmc.verification.scan();
    const mail = await message(lib.patrons.asa, 'email_verification');
    expect(mail).to.include({ status: 'pending', channel: 'email', to_address: 'asa.ny@example.org', lang: 'sv' });
    expect(mail.idempotency_key).to.match(new RegExp(`^email_verification:0:${lib.patrons.asa}:[0-9a-f]{16}:1$`));
  });

  describe('when the rule allows SMS next', () => {
    let smsc: TestSmsc;
    let withSms: App;

    beforeEach(async () => {
      smsc = await TestSmsc.start();
      withSms = testServices(
        testSettings(db.url, { KMC_SMTP_URL: smtp.url, KMC_PUBLIC_URL: PUBLIC_URL, KMC_SECRET: SECRET, KMC_SMPP_URL: smsc.url }),
        clock,
      );
      await withSms.startChannels();
      await db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 1 });
      await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).update({ channels: 'email,sms,print' });
      await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ smsalertnumber: '+46701234567' });
    });

    afterEach(async () => {
      await withSms.close();
      await smsc.close();
    });

    it('an expired address sends the held notice as an SMS, rendered for SMS', async () => {
      await withSms.verification.scan();
      await setEmail(lib.patrons.asa, 'asa.ny@example.org');
      await runNotices(withSms.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
      expect((await message(lib.patrons.asa)).status).to.equal('held');
      await withSms.verification.scan();
      clock.advance(3 * DAY + 1);
      const scan = await withSms.verification.scan();
      expect(scan.fallback).to.deep.equal({ sms: 1 });
      const sms = await message(lib.patrons.asa);
      expect(sms).to.include({ channel: 'sms', status: 'pending', to_address: '+46701234567' });
      expect(sms.body_html).to.equal(null);
      await withSms.worker.deliverOnce();
      expect(smsc.messages).to.have.length(1);
      expect(smsc.messages[0].to).to.contain('46701234567');
      expect(smsc.messages[0].text).to.contain('Centralbiblioteket').and.contain('försenad');
    });
  });
});
