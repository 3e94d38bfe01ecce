/**
 * Staff sign-in against a real MariaDB and Koha's tables: the password form
 * (Koha's bcrypt hash), the launch token, who may not sign in, slowed-down
 * guessing, sessions with idle and absolute ends, cookies that work inside
 * Koha's iframe, the CSP that lets only Koha frame the pages, CSRF tokens on
 * every form, and the audit record.
 */
import { expect } from 'chai';
import request from 'supertest';
import type express from 'express';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { KohaBuilder } from '../../sidecar/fixture';
import { migrate } from '../../sidecar/db';
import { signLaunchToken } from '../../sidecar/web/auth/launch-token';
import type { Settings } from '../../sidecar/config';
import { addStaff, csrfOf, DEMO_PASSWORD, StaffSession } from './web-support';

const SECRET = 'the library secret, long enough for a signing key';

describe(`staff sign-in, sessions and CSRF (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let db: KohaDatabase;
  let services: ReturnType<typeof testServices>;
  let settings: Settings;
  let app: express.Express;
  let clock: TestClock;
  let k: KohaBuilder;
  let librarian: number;
  let patron: number;
  let desk: number;

  const now = () => Math.floor(clock.now().getTime() / 1000);
  const cookieOf = (res: request.Response, name = 'kmc_session') =>
    ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));

  before(async () => {
    db = await createKohaDatabase('web_auth');
    await migrate(db.knex);
    k = new KohaBuilder(db.knex);
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket' });
    await k.category({ code: 'ST', description: 'Personal', categoryType: 'S' });
    librarian = await addStaff(k, {
      userid: 'karin',
      surname: 'Lindqvist',
      firstname: 'Karin',
      modules: ['superlibrarian'],
      branchcode: 'CPL',
      categorycode: 'ST',
      lang: 'sv-SE',
    });
    desk = await addStaff(k, {
      userid: 'mads',
      surname: 'Sørensen',
      modules: ['catalogue', 'circulate'],
      branchcode: 'CPL',
      categorycode: 'ST',
    });
    // Edits patrons but may not use the staff interface: Koha needs `catalogue` for that.
    patron = await addStaff(k, { userid: 'asa', surname: 'Öberg', modules: ['borrowers'], branchcode: 'CPL', categorycode: 'ST' });
    clock = new TestClock(new Date('2026-11-24T09:00:00Z'));
    settings = testSettings(db.url, {
      KMC_SECRET: SECRET,
      KMC_KOHA_STAFF_ORIGIN: 'https://staff.library.example',
      KMC_SESSION_IDLE_MINUTES: '30',
      KMC_SESSION_MAX_HOURS: '8',
    });
    services = testServices(settings, clock);
    app = services.web;
  });

  after(async () => {
    await services.close();
    await db.drop();
  });

  async function signinForm(agent = request.agent(app)) {
    const form = await agent.get('/signin');
    expect(form.status).to.equal(200);
    return { agent, token: csrfOf(form.text) };
  }

  it('signs a staff member in with their Koha user name and password, into a server-side session', async () => {
    const { agent, token } = await signinForm();
    const res = await agent.post('/signin').type('form').send({ _csrf: token, userid: 'karin', password: DEMO_PASSWORD, next: '/archive' });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/archive');
    const cookie = cookieOf(res)!;
    // Over http (a sidecar on loopback): HttpOnly and Lax, not Secure.
    expect(cookie)
      .to.match(/HttpOnly/)
      .and.to.match(/SameSite=Lax/)
      .and.not.to.match(/Secure/);
    const value = /^kmc_session=([^;]+)/.exec(cookie)![1];
    const rows = await db.knex('kmc_sessions').where({ borrowernumber: librarian });
    expect(rows).to.have.length(1);
    // Only the hash of the cookie is stored.
    expect(rows[0].id_hash)
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.to.equal(value);
    expect(rows[0].via).to.equal('password');
    const page = await agent.get('/archive');
    expect(page.status).to.equal(200);
    // Her Koha language is Swedish, so the pages are too.
    expect(page.text).to.contain('<html lang="sv">').and.to.contain('Arkiv');
    expect(await db.knex('kmc_audit').where({ action: 'signin', borrowernumber: librarian }).count({ n: '*' }).first()).to.deep.equal({
      n: 1,
    });
  });

  it('refuses a wrong password and an unknown user alike, and starts no session', async () => {
    for (const [userid, password] of [
      ['karin', 'not-her-password'],
      ['nobody', DEMO_PASSWORD],
    ]) {
      const { agent, token } = await signinForm();
      const res = await agent.post('/signin').type('form').send({ _csrf: token, userid, password });
      expect(res.status).to.equal(401);
      expect(res.text).to.contain('The user name or the password is wrong.');
      expect(cookieOf(res)).to.equal(undefined);
    }
    expect(await db.knex('kmc_audit').where({ action: 'signin.failed' }).count({ n: '*' }).first()).to.deep.equal({ n: 2 });
  });

  it('refuses a patron without staff access, even with the right password, and by launch token too', async () => {
    const { agent, token } = await signinForm();
    const res = await agent.post('/signin').type('form').send({ _csrf: token, userid: 'asa', password: DEMO_PASSWORD });
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('no access to the staff interface');
    expect(cookieOf(res)).to.equal(undefined);
    const launched = await request(app).get(`/launch?token=${signLaunchToken(SECRET, patron, now())}`);
    expect(launched.status).to.equal(403);
    expect(cookieOf(launched)).to.equal(undefined);
    expect(await db.knex('kmc_sessions').where({ borrowernumber: patron }).count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('refuses the sign-in form posted without its token, even with the right password', async () => {
    const agent = request.agent(app);
    await agent.get('/signin');
    const res = await agent.post('/signin').type('form').send({ userid: 'karin', password: DEMO_PASSWORD });
    expect(res.status).to.equal(403);
    expect(cookieOf(res)).to.equal(undefined);
  });

  it('slows down guessing: after five wrong passwords the user name is refused for a quarter of an hour', async () => {
    for (let i = 0; i < 5; i++) {
      const { agent, token } = await signinForm();
      expect(
        (
          await agent
            .post('/signin')
            .type('form')
            .send({ _csrf: token, userid: 'mads', password: `guess ${i}` })
        ).status,
      ).to.equal(401);
    }
    const { agent, token } = await signinForm();
    const blocked = await agent.post('/signin').type('form').send({ _csrf: token, userid: 'mads', password: DEMO_PASSWORD });
    expect(blocked.status).to.equal(429);
    expect(blocked.text).to.contain('Too many failed attempts');
    expect(cookieOf(blocked)).to.equal(undefined);
    clock.advance(16 * 60_000);
    const { agent: later, token: t2 } = await signinForm();
    expect((await later.post('/signin').type('form').send({ _csrf: t2, userid: 'mads', password: DEMO_PASSWORD })).status).to.equal(303);
  });

  it('counts failed sign-ins per staff member, by user name or card number alike, and per address', async () => {
    // Earlier failures from this address slide out of the window first.
    clock.advance(16 * 60_000);
    const attempt = async (userid: string, password: string) => {
      const { agent, token } = await signinForm();
      return agent.post('/signin').type('form').send({ _csrf: token, userid, password });
    };
    const { cardnumber } = await db.knex('borrowers').where({ borrowernumber: desk }).first('cardnumber');
    expect(cardnumber).to.be.a('string').and.not.equal('mads');
    for (let i = 0; i < 5; i++) expect((await attempt('mads', `guess ${i}`)).status).to.equal(401);
    // The same person by card number: the failures of the user name count for the card number too.
    expect((await attempt(cardnumber, 'guess 5')).status).to.equal(429);
    const refused = await attempt(cardnumber, DEMO_PASSWORD);
    expect(refused.status).to.equal(429);
    expect(cookieOf(refused)).to.equal(undefined);
    expect((await attempt('mads', DEMO_PASSWORD)).status).to.equal(429);
    const failures = await db.knex('kmc_signin_failures').where({ borrowernumber: desk }).count<Array<{ n: number | string }>>({ n: '*' });
    expect(Number(failures[0].n)).to.equal(5);
    clock.advance(16 * 60_000);
    expect((await attempt(cardnumber, DEMO_PASSWORD)).status).to.equal(303);

    // Per address: twenty failures under as many names stop every name from that address.
    for (let i = 0; i < 20; i++) expect((await attempt(`nobody ${i}`, `guess ${i}`)).status).to.equal(401);
    expect((await attempt('mads', DEMO_PASSWORD)).status).to.equal(429);
    clock.advance(16 * 60_000);
    expect((await attempt('mads', DEMO_PASSWORD)).status).to.equal(303);
  });

  it('ends a session after the idle time, and after the absolute time however busy it is', async () => {
    const idle = await StaffSession.launch(app, SECRET, librarian, now());
    expect((await idle.get('/archive')).status).to.equal(200);
    clock.advance(31 * 60_000);
    const gone = await idle.get('/archive');
    expect(gone.status).to.equal(303);
    expect(gone.headers.location).to.equal('/signin?next=%2Farchive');

    const busy = await StaffSession.launch(app, SECRET, librarian, now());
    for (let i = 0; i < 16; i++) {
      clock.advance(29 * 60_000);
      expect((await busy.get('/archive')).status, `after ${(i + 1) * 29} minutes`).to.equal(200);
    }
    clock.advance(29 * 60_000); // 8 h 13 min after it began
    expect((await busy.get('/archive')).status).to.equal(303);
  });

  it("sends a CSP that lets only Koha's staff interface frame the pages, and no inline script", async () => {
    const res = await request(app).get('/signin');
    const csp = res.headers['content-security-policy'];
    expect(csp).to.contain("frame-ancestors 'self' https://staff.library.example");
    expect(csp).to.contain("script-src 'self'");
    expect(csp).not.to.contain('unsafe-inline');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
  });

  it("serves its own stylesheet and script without sign-in; a missing one or a broken body is the client's error", async () => {
    const css = await request(app).get('/assets/kmc.css');
    expect(css.status).to.equal(200);
    expect(css.headers['content-type']).to.match(/^text\/css/);
    expect((await request(app).get('/assets/kmc.js')).headers['content-type']).to.match(/javascript/);
    expect((await request(app).get('/assets/nothing.css')).status).to.equal(404);
    const s = await StaffSession.launch(app, SECRET, librarian, now());
    const broken = await s.agent
      .post('/api/messages')
      .set('Content-Type', 'application/json')
      .set('X-CSRF-Token', await s.token())
      .send('{"not json');
    expect(broken.status).to.equal(400);
  });

  it("gives the session cookie SameSite=None, Secure and Partitioned when the sidecar is on https, for Koha's iframe", async () => {
    const https = { ...settings, publicUrl: 'https://kmc.library.example' };
    // A second root on the same database, with the sidecar on https.
    const secure = testServices(https, clock, { knex: services.knex });
    const res = await request(secure.web).get(`/launch?token=${signLaunchToken(SECRET, librarian, now())}`);
    await secure.stop();
    expect(res.status).to.equal(303);
    const cookie = cookieOf(res, '__Host-kmc_session')!;
    expect(cookie)
      .to.match(/; Path=\//)
      .and.to.match(/HttpOnly/)
      .and.to.match(/Secure/)
      .and.to.match(/SameSite=None/)
      .and.to.match(/Partitioned/);
    expect(cookie).not.to.match(/Domain=/);
  });

  it("refuses a form posted without the session's CSRF token, or with another session's, and changes nothing", async () => {
    const karin = await StaffSession.launch(app, SECRET, librarian, now());
    const other = await StaffSession.launch(app, SECRET, desk, now());
    const before = await db.knex('kmc_sessions').count({ n: '*' }).first();
    for (const fields of [{}, { _csrf: await other.token() }, { _csrf: '' }]) {
      const res = await karin.agent.post('/signout').type('form').send(fields);
      expect(res.status).to.equal(403);
      // Karin reads the pages in Swedish (her Koha language).
      expect(res.text).to.contain('Formuläret har gått ut');
    }
    expect(await db.knex('kmc_sessions').count({ n: '*' }).first()).to.deep.equal(before);
    expect((await karin.get('/archive')).status).to.equal(200);
    const json = await karin.agent.post('/api/messages').set('Accept', 'application/json').send({});
    expect(json.status).to.equal(403);
    expect(json.body.error).to.equal('KMC_CSRF_REFUSED');
    expect(await db.knex('kmc_audit').where({ action: 'csrf.refused', borrowernumber: librarian }).count({ n: '*' }).first()).to.deep.equal(
      { n: 4 },
    );
    // With its token, signing out works and ends the session.
    const out = await karin.post('/signout', {});
    expect(out.status).to.equal(303);
    expect((await karin.get('/archive')).status).to.equal(303);
  });

  it('switches the pages between English and Swedish', async () => {
    const s = await StaffSession.launch(app, SECRET, desk, now());
    expect((await s.get('/queue')).text).to.contain('Message queue');
    const switched = await s.post('/lang', { lang: 'sv', back: '/queue' });
    expect(switched.headers.location).to.equal('/queue');
    const sv = await s.get('/queue');
    expect(sv.text).to.contain('<html lang="sv">').and.to.contain('Meddelandekö').and.not.to.contain('Message queue');
    // The launch link may name the language Koha shows.
    const agent = request.agent(app);
    await agent.get(`/launch?token=${signLaunchToken(SECRET, desk, now())}&lang=sv-SE`);
    expect((await agent.get('/archive')).text).to.contain('<html lang="sv">');
  });

  it("shows only catalogue texts as a page's notice, whatever the address asks for", async () => {
    const s = await StaffSession.launch(app, SECRET, desk, now());
    for (const done of ['constructor', '__proto__', 'toString', '<b>x</b>']) {
      const res = await s.get(`/queue?done=${encodeURIComponent(done)}&n=1`);
      expect(res.status, done).to.equal(200);
      expect(res.text, done).not.to.contain('class="alert alert-success"');
    }
    expect((await s.get('/queue?done=queue.done&n=%3Cb%3E')).text).to.contain('Done: &lt;b&gt;.');
  });

  it('reads permissions from Koha on every request: a permission taken away counts at once', async () => {
    const s = await StaffSession.launch(app, SECRET, desk, now());
    expect((await s.get('/queue')).status).to.equal(200);
    await db.knex('borrowers').where({ borrowernumber: desk }).update({ flags: 4 });
    expect((await s.get('/queue')).status).to.equal(403);
    await db.knex('borrowers').where({ borrowernumber: desk }).update({ flags: 0 });
    // No staff access at all: the session ends.
    expect((await s.get('/queue')).status).to.equal(303);
    await db
      .knex('borrowers')
      .where({ borrowernumber: desk })
      .update({ flags: 2 + 4 });
  });
});
