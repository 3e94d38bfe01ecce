import { expect } from 'chai';
import path from 'node:path';
import express from 'express';
import nunjucks from 'nunjucks';
import request from 'supertest';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';
import { main } from '../../sidecar/cli';
import { VerificationRateLimiter, VerificationStore } from '../../sidecar/verification';
import { verificationPages, verificationApi, apiErrorHandler, type VerificationWebDeps } from '../../sidecar/web';

const PAGE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'pages');

describe(`e-mail verification: the public page's limits, staff confirmation, command line (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  let clock: TestClock;
  let kmc: App;
  let web: VerificationWebDeps;
  let pages: nunjucks.Environment;

  const appWith = (deps: VerificationWebDeps) => {
    const app = express();
    app.use(verificationPages(deps, pages));
    app.use('/api', verificationApi(deps));
    app.use(apiErrorHandler(deps.logger));
    return app;
  };

  beforeEach(async () => {
    db = await createKohaDatabase('verifyweb');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url }), clock);
    await kmc.startChannels();
    pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGE_DIR), { autoescape: true });
    web = { service: kmc.verification, limiter: kmc.verificationLimiter, logger: kmc.logger };
  });

  afterEach(async () => {
    await kmc.close();
    await smtp.stop();
    await db.drop();
  });

  /** A changed address, scanned and mailed: returns the link's token from the received mail. */
  const linkFor = async (borrowernumber: number, email: string): Promise<string> => {
    await db.knex('borrowers').where({ borrowernumber }).update({ email });
    await kmc.verification.scan();
    await kmc.worker.deliverOnce();
    const mail = smtp.messages.filter((m) => m.envelopeTo.includes(email)).pop()!;
    return /\/verify\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/.exec(String(mail.parsed.text))![1];
  };

  it('a burst of wrong links is slowed down with 429 for further wrong links, across sidecars, until the window slides on', async () => {
    await kmc.verification.scan();
    const good = await linkFor(lib.patrons.asa, 'asa.ny@example.org');
    const app = appWith(web);
    const { maxFailures } = kmc.verificationLimiter.limits;
    expect(maxFailures).to.equal(10);
    for (let i = 0; i < maxFailures; i += 1) {
      // Well-formed guesses: right shape, wrong signature.
      const guess = `${'A'.repeat(31)}${i % 10}.${'B'.repeat(22)}`;
      expect((await request(app).get(`/verify/${guess}`)).status).to.equal(404);
    }
    const refused = await request(app).get(`/verify/${'C'.repeat(32)}.${'D'.repeat(22)}`);
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 15 * 60);
    expect(refused.text).to.contain('Too many attempts');
    // While refused, a further wrong link is refused too, and not counted.
    const blocked = await request(app).post(`/verify/${'C'.repeat(31)}1.${'D'.repeat(22)}`);
    expect(blocked.status).to.equal(429);
    expect((await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.asa }).first()).state).to.equal('pending');
    // Failures are recorded without the client address in clear.
    const rows = await db.knex('kmc_verification_failures').select('client_hash');
    expect(rows).to.have.length(maxFailures);
    expect(rows[0].client_hash)
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.contain('127.0.0.1');

    // A second sidecar (fresh memory, same database) refuses that client too.
    const other = appWith({
      ...web,
      limiter: new VerificationRateLimiter({ store: new VerificationStore(db.knex), secret: kmc.settings.secret, clock }),
    });
    expect((await request(other).post(`/verify/${'C'.repeat(31)}2.${'D'.repeat(22)}`)).status).to.equal(429);

    clock.advance(15 * 60_000 + 1000);
    expect((await request(app).get(`/verify/${'C'.repeat(31)}3.${'D'.repeat(22)}`)).status).to.equal(404);
    const later = await request(app).post(`/verify/${good}`);
    expect(later.status).to.equal(200);
    expect((await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.asa }).first()).state).to.equal('verified');
  });

  it("wrong links from one address never slow a valid one, and the page speaks the browser's language until the link worked", async () => {
    await kmc.verification.scan();
    // Åsa's mail is in Swedish; the browser at the shared address asks for English.
    const good = await linkFor(lib.patrons.asa, 'asa.ny@example.org');
    const app = appWith(web);
    const { maxFailures } = kmc.verificationLimiter.limits;
    for (let i = 0; i < maxFailures; i += 1) {
      const guess = `${'E'.repeat(31)}${i % 10}.${'F'.repeat(22)}`;
      expect((await request(app).get(`/verify/${guess}`).set('Accept-Language', 'en-GB,en;q=0.9')).status).to.equal(404);
    }
    const refused = await request(app)
      .post(`/verify/${'G'.repeat(32)}.${'H'.repeat(22)}`)
      .set('Accept-Language', 'en-GB,en;q=0.9');
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 15 * 60);

    // The patron behind the same address opens her link: it is answered, in the browser's language, not the mail's.
    const page = await request(app).get(`/verify/${good}`).set('Accept-Language', 'en-GB,en;q=0.9');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('<html lang="en">').and.contain('Confirm my e-mail address').and.not.contain('Bekräfta');
    // A browser asking for German gets German, from the page's own texts.
    const german = await request(app).get(`/verify/${good}`).set('Accept-Language', 'de-DE,de;q=0.9');
    expect(german.text).to.contain('<html lang="de">').and.contain('E-Mail-Adresse bestätigen');
    const done = await request(app).post(`/verify/${good}`).set('Accept-Language', 'en-GB,en;q=0.9');
    expect(done.status).to.equal(200);
    expect((await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.asa }).first()).state).to.equal('verified');

    // Further wrong links from that address are still refused, and not counted again.
    expect((await request(app).get(`/verify/${'J'.repeat(32)}.${'K'.repeat(22)}`)).status).to.equal(429);
    expect(await db.knex('kmc_verification_failures').select('id')).to.have.length(maxFailures);
  });

  it('after a flood of requests from one client its wrong links are refused, its valid ones still answered', async () => {
    const limiter = new VerificationRateLimiter(
      { store: new VerificationStore(db.knex), secret: kmc.settings.secret, clock },
      { maxRequests: 5, requestWindowMs: 60_000 },
    );
    const app = appWith({ ...web, limiter });
    await kmc.verification.scan();
    const good = await linkFor(lib.patrons.asa, 'asa.ny@example.org');
    const wrong = `${'L'.repeat(32)}.${'M'.repeat(22)}`;
    for (let i = 0; i < 5; i += 1) expect((await request(app).get(`/verify/${good}`)).status).to.equal(200);
    const flooded = await request(app).get(`/verify/${wrong}`);
    expect(flooded.status).to.equal(429);
    expect(Number(flooded.headers['retry-after'])).to.be.within(1, 60);
    expect((await request(app).get(`/verify/${good}`)).status).to.equal(200);
    clock.advance(61_000);
    expect((await request(app).get(`/verify/${wrong}`)).status).to.equal(404);
  });

  it('staff mark an address verified through the JSON API: recorded with who did it, held notices released', async () => {
    await kmc.verification.scan();
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ email: 'asa.ny@example.org' });
    await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    await kmc.verification.scan();
    const app = appWith(web);

    const before = await request(app).get(`/api/patrons/${lib.patrons.asa}/email-verification`);
    expect(before.status).to.equal(200);
    expect(before.body).to.include({ state: 'pending', email: 'asa.ny@example.org', usable: false });

    // A stale form (the address changed in Koha since staff looked) is refused.
    const stale = await request(app).post(`/api/patrons/${lib.patrons.asa}/email-verification`).send({ email: 'asa.oberg@example.org' });
    expect(stale.status).to.equal(409);
    expect(stale.body.error).to.equal('KMC_EMAIL_CHANGED');

    const res = await request(app).post(`/api/patrons/${lib.patrons.asa}/email-verification`).send({ email: 'asa.ny@example.org' });
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ borrowernumber: lib.patrons.asa, state: 'verified', email: 'asa.ny@example.org', released: 1 });
    const rec = await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.asa }).first();
    expect(rec).to.include({ state: 'verified', verified_by: 'staff (api)' });
    const notice = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa, message_type: 'overdue' }).first();
    expect(notice.status).to.equal('pending');
    // The unsent verification mail is not needed any more.
    const link = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa, message_type: 'email_verification' }).first();
    expect(link.status).to.equal('cancelled');

    expect((await request(app).post('/api/patrons/999999/email-verification')).status).to.equal(404);
    const none = await request(app).post(`/api/patrons/${lib.patrons.soren}/email-verification`);
    expect(none.status).to.equal(409);
    expect(none.body.error).to.equal('KMC_NO_EMAIL_ADDRESS');
    expect((await request(app).post('/api/patrons/abc/email-verification')).status).to.equal(400);
  });

  it('kmc verification scan, mark-verified and kmc messages show and change the state', async () => {
    const env = { KMC_DATABASE_URL: db.url, KMC_LOG_LEVEL: 'error', KMC_SMTP_URL: smtp.url };
    const lines: string[] = [];
    const out = { stdout: (s: string) => lines.push(s), stderr: (s: string) => lines.push(s) };

    expect(await main(['verification', 'scan', '--json'], env, out)).to.equal(0);
    expect(JSON.parse(lines.pop()!)).to.include({ baseline: true, verified: 4, linksSent: 0 });
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.jurgen }).update({ email: 'juergen.neu@example.net' });
    expect(await main(['verification', 'scan'], env, out)).to.equal(0);
    expect(lines.pop()).to.contain('1 verification link(s) sent').and.contain('Expired: 0');

    expect(await main(['messages', '--borrower', String(lib.patrons.jurgen), '--json'], env, out)).to.equal(0);
    const listed = JSON.parse(lines.pop()!);
    expect(listed.emailVerification).to.include({ state: 'pending', email: 'juergen.neu@example.net', usable: false });
    expect(listed.messages.map((m: { message_type: string }) => m.message_type)).to.deep.equal(['email_verification']);
    expect(await main(['messages', '--borrower', String(lib.patrons.jurgen)], env, out)).to.equal(0);
    expect(lines.join('\n')).to.contain('E-mail address juergen.neu@example.net: waiting for the patron to verify');

    expect(
      await main(['verification', 'mark-verified', '--borrower', String(lib.patrons.jurgen), '--by', 'desk:anna', '--json'], env, out),
    ).to.equal(0);
    expect(JSON.parse(lines.pop()!)).to.include({ state: 'verified', verified_by: 'desk:anna' });
    expect(await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.jurgen }).first()).to.include({
      state: 'verified',
      verified_by: 'desk:anna',
    });

    let thrown: { code?: string; message?: string } | null = null;
    try {
      await main(['verification', 'mark-verified'], env, out);
    } catch (err) {
      thrown = err as { code?: string; message?: string };
    }
    expect(thrown).to.include({ code: 'KMC_USAGE' });
    expect(thrown!.message).to.contain('needs --borrower N');
  });
});
