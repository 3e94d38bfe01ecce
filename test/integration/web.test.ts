import { expect } from 'chai';
import request from 'supertest';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testSettings, BY_HAND } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { startServer, type Running } from '../../sidecar/serve';
import { createMemoryLogger } from '../../sidecar/logging';
import { addStaff, StaffSession } from './web-support';

describe(`the first staff page and the health check (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let staff: StaffSession;

  before(async () => {
    db = await createKohaDatabase('web');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ firstname: '<script>alert(1)</script>' });
    running = await startServer(testSettings(db.url, { KMC_PORT: '0' }), {
      jobs: BY_HAND,
      logger: createMemoryLogger(),
      clock: new TestClock(new Date('2026-11-24T05:00:00Z')),
      deliverEveryMs: 3_600_000,
    });
    await runNotices(running.services.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    const admin = await addStaff(lib.builder, {
      userid: 'admin',
      surname: 'Lindqvist',
      modules: ['superlibrarian'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(
      running.server,
      running.services.settings.secret,
      admin,
      Math.floor(running.services.clock.now().getTime() / 1000),
    );
  });

  after(async () => {
    await running.stop();
    await db.drop();
  });

  it('listens on loopback unless told otherwise', () => {
    const addr = running.server.address();
    expect(typeof addr === 'object' && addr?.address).to.equal('127.0.0.1');
  });

  it('/healthz says the database is reachable and migrations are current', async () => {
    const res = await request(running.server).get('/healthz');
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ ok: true, database: 'reachable' });
    expect(res.body.migrations.pending).to.deep.equal([]);
  });

  it('/healthz answers 503 when a migration is pending', async () => {
    await db.knex('kmc_schema_migrations').where({ name: '001_foundation.sql' }).delete();
    try {
      const res = await request(running.server).get('/healthz');
      expect(res.status).to.equal(503);
      expect(res.body.migrations.pending).to.deep.equal(['001_foundation.sql']);
    } finally {
      await migrate(db.knex);
    }
  });

  it('sends a visitor who is not signed in to the sign-in page', async () => {
    const res = await request(running.server).get('/archive');
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/signin?next=%2Farchive');
  });

  it('lists recent messages in the archive, and escapes what patrons typed', async () => {
    const res = await staff.get('/archive');
    expect(res.status).to.equal(200);
    expect(res.headers['content-security-policy']).to.contain("default-src 'self'");
    expect(res.text).to.contain('Archive');
    const ids = await db.knex('kmc_messages').pluck('id');
    for (const id of ids) expect(res.text).to.contain(`href="/archive/${id}"`);
    expect(res.text).to.contain('Jürgen Müller');
    expect(res.text).not.to.contain('<script>alert(1)</script>');
    expect(res.text).to.contain('&lt;script&gt;alert(1)&lt;/script&gt; Öberg');

    const asa = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first();
    const old = await staff.get(`/messages/${asa.id}`);
    expect(old.status).to.equal(301);
    expect(old.headers.location).to.equal(`/archive/${asa.id}`);
    const page = await staff.get(`/archive/${asa.id}`);
    expect(page.status).to.equal(200);
    expect(page.text).not.to.contain('<script>alert(1)</script>');
    expect(page.text).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).to.contain('Röda rummet');
  });

  it('answers 404 for a message that does not exist', async () => {
    const res = await staff.get('/archive/999999');
    expect(res.status).to.equal(404);
    expect(res.text).to.contain('There is no message with that number.');
  });

  it('the JSON API lists one patron’s messages', async () => {
    expect((await request(running.server).get(`/api/messages?borrower=${lib.patrons.jurgen}`)).status).to.equal(401);
    const res = await staff.get(`/api/messages?borrower=${lib.patrons.jurgen}`);
    expect(res.status).to.equal(200);
    expect(res.body.messages).to.have.length(1);
    expect(res.body.messages[0]).to.include({ borrowernumber: lib.patrons.jurgen, message_type: 'overdue' });
  });
});
