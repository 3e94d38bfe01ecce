/**
 * The web app's one error handler: a route throws the error class that
 * carries the meaning, and the client gets the status of that meaning, on
 * the JSON API and on the staff pages alike.
 */
import { expect } from 'chai';
import request from 'supertest';
import type express from 'express';
import { kohaSchemaKind } from '../support/koha';
import { ConflictError, NotFoundError, RefusedError, UnavailableError } from '../../sidecar/errors';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

/** Pages that throw each kind of error, as a capability's service would. */
function throwingPages(app: express.Express): void {
  const throws: Record<string, () => Error> = {
    'not-found': () => new NotFoundError('KMC_RUN_NOT_FOUND', 'there is no run 99'),
    conflict: () => new ConflictError('KMC_RUN_NOT_DONE', 'run 7 is still working'),
    refused: () => new RefusedError('KMC_BAD_DATE', 'not a date: 2026-13-01'),
    unavailable: () => new UnavailableError('KMC_CHANNEL_UNAVAILABLE', 'SMS is not set up'),
    fault: () => new Error('a fault with secret details'),
  };
  for (const [name, make] of Object.entries(throws)) {
    app.get(`/throws/${name}`, () => {
      throw make();
    });
  }
}

describe(`errors reach the client with the status of their meaning (${kohaSchemaKind()} Koha schema)`, () => {
  let sidecar: StaffSidecar;
  let staff: StaffSession;

  before(async () => {
    sidecar = await startStaffSidecar(
      'weberrors',
      { admin: { userid: 'admin', surname: 'Lindqvist', modules: ['superlibrarian'], branchcode: 'CPL', categorycode: 'PT' } },
      { extend: throwingPages },
    );
    const { running, clock } = sidecar;
    staff = await StaffSession.launch(
      running.server,
      running.services.settings.secret,
      sidecar.n.admin,
      Math.floor(clock.now().getTime() / 1000),
    );
  });

  after(async () => {
    await sidecar.stop();
  });

  it('the JSON API: an unknown patron is 404, a changed address 409, a bad number 400, each with its code', async () => {
    const post = async (path: string, body: object) =>
      staff.agent
        .post(path)
        .set('X-CSRF-Token', await staff.token())
        .send(body);
    const notFound = await post('/api/patrons/987654/messages', { channel: 'email', text: 'Hej' });
    expect([notFound.status, notFound.body.error]).to.deep.equal([404, 'KMC_PATRON_NOT_FOUND']);
    const conflict = await post(`/api/patrons/${sidecar.lib.patrons.asa}/email-verification`, { email: 'not-her-address@example.org' });
    expect([conflict.status, conflict.body.error]).to.deep.equal([409, 'KMC_EMAIL_CHANGED']);
    const refused = await post('/api/patrons/abc/email-verification', {});
    expect([refused.status, refused.body.error]).to.deep.equal([400, 'KMC_BAD_REQUEST']);
    expect(refused.body.message).to.equal('"abc" is not a borrowernumber');
  });

  it('the staff pages: 404, 409, 400 and 503 pages with the reason; a fault is 500 and keeps its details in the log', async () => {
    const cases: Array<[string, number, string]> = [
      ['/throws/not-found', 404, 'There is no such page.'],
      ['/throws/conflict', 409, 'run 7 is still working'],
      ['/throws/refused', 400, 'not a date: 2026-13-01'],
      ['/throws/unavailable', 503, 'SMS is not set up'],
    ];
    for (const [path, status, text] of cases) {
      const res = await staff.get(path);
      expect(res.status, path).to.equal(status);
      expect(res.text, path).to.contain(text);
    }
    const fault = await staff.get('/throws/fault');
    expect(fault.status).to.equal(500);
    expect(fault.text).not.to.contain('secret details');
  });

  it('without a sign-in, the API answers 401 or sends to the sign-in, never 500', async () => {
    const res = await request(sidecar.running.server).get('/api/messages');
    expect(res.status).to.be.oneOf([401, 303]);
  });
});
