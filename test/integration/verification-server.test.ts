import { expect } from 'chai';
import request from 'supertest';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, type SmallLibrary } from '../support/library';
import { TestClock, testSettings, BY_HAND } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { startServer, type Running } from '../../sidecar/serve';
import { createMemoryLogger } from '../../sidecar/logging';
import { signLaunchToken } from '../../sidecar/web/auth/launch-token';

describe(`e-mail verification inside kmc serve (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let staff: number;
  let cataloguer: number;

  /** Signs a staff member in with a launch token, as the Koha plugin would: the session cookie. */
  const signIn = async (borrowernumber: number): Promise<string> => {
    const token = signLaunchToken(running.services.settings.secret, borrowernumber, Math.floor(Date.now() / 1000));
    const launched = await request(running.server).get(`/launch?token=${encodeURIComponent(token)}&next=/`);
    expect(launched.status).to.equal(303);
    return ([] as string[])
      .concat(launched.headers['set-cookie'] ?? [])
      .find((c) => /^kmc_session=/.test(c))!
      .split(';')[0];
  };

  before(async () => {
    db = await createKohaDatabase('verifyserve');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    // superlibrarian: Koha's bit 0 of borrowers.flags
    staff = await lib.builder.patron({ surname: 'Lind', firstname: 'Eva', userid: 'eva', branchcode: 'CPL', categorycode: 'PT', flags: 1 });
    // catalogue only (bit 2): may sign in, may not handle patrons' messages
    cataloguer = await lib.builder.patron({
      surname: 'Holm',
      firstname: 'Per',
      userid: 'per',
      branchcode: 'CPL',
      categorycode: 'PT',
      flags: 4,
    });
    running = await startServer(testSettings(db.url, { KMC_PORT: '0' }), {
      jobs: BY_HAND,
      logger: createMemoryLogger(),
      clock: new TestClock(new Date()),
      deliverEveryMs: 3_600_000,
      verifyEveryMs: 3_600_000,
    });
  });

  after(async () => {
    await running.stop();
    await db.drop();
  });

  it('the schedule scans at start: the existing addresses are taken as verified', async () => {
    for (let i = 0; i < 100 && !(await running.services.verification.baselineTaken()); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(await running.services.verification.baselineTaken()).to.equal(true);
    expect(await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.asa }).first()).to.include({ state: 'verified' });
  });

  it('the verification page is public: no sign-in, no staff form token, in the browser’s language', async () => {
    const bad = `${'A'.repeat(32)}.${'B'.repeat(22)}`;
    const page = await request(running.server).get(`/verify/${bad}`).set('Accept-Language', 'da');
    expect(page.status).to.equal(404);
    expect(page.text).to.contain('<html lang="da">').and.contain('Linket er ikke gyldigt');
    const post = await request(running.server).post(`/verify/${bad}`);
    expect(post.status).to.equal(404);
    expect(post.text).to.contain('This link is not valid');
  });

  it('the staff API sits behind sign-in, and GET /api/messages shows the address’s state', async () => {
    const anonymous = await request(running.server).post(`/api/patrons/${lib.patrons.asa}/email-verification`).send({});
    expect(anonymous.status).to.equal(401);

    const cookie = await signIn(staff);
    const api = await request(running.server).get(`/api/messages?borrower=${lib.patrons.asa}`).set('Cookie', cookie);
    expect(api.status).to.equal(200);
    expect(api.body.emailVerification).to.include({
      state: 'verified',
      email: 'asa.oberg@example.org',
      verified_by: 'existing address (first scan)',
    });
    const state = await request(running.server).get(`/api/patrons/${lib.patrons.asa}/email-verification`).set('Cookie', cookie);
    expect(state.status).to.equal(200);
    expect(state.body).to.include({ state: 'verified', usable: true });
  });

  it('staff confirm an address through the API with their session and form token; who did it is recorded', async () => {
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.jurgen }).update({ email: 'juergen.neu@example.net' });
    await running.services.verification.scan();
    const cookie = await signIn(staff);
    const page = await request(running.server).get(`/patrons/${lib.patrons.jurgen}/messages?embed=0`).set('Cookie', cookie);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];

    const noToken = await request(running.server)
      .post(`/api/patrons/${lib.patrons.jurgen}/email-verification`)
      .set('Cookie', cookie)
      .send({});
    expect(noToken.status).to.equal(403);
    const done = await request(running.server)
      .post(`/api/patrons/${lib.patrons.jurgen}/email-verification`)
      .set('Cookie', cookie)
      .set('X-CSRF-Token', csrf)
      .send({ email: 'juergen.neu@example.net' });
    expect(done.status).to.equal(200);
    expect(done.body).to.include({ state: 'verified', verified_by: `staff:${staff}` });
    expect(await db.knex('kmc_email_verifications').where({ borrowernumber: lib.patrons.jurgen }).first()).to.include({
      state: 'verified',
      verified_by: `staff:${staff}`,
    });

    const other = await signIn(cataloguer);
    const refused = await request(running.server).get(`/api/patrons/${lib.patrons.jurgen}/email-verification`).set('Cookie', other);
    expect(refused.status).to.equal(403);
  });
});
