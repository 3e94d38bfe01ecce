/**
 * The whole hop: the Koha plugin's Perl makes the launch link, the sidecar's
 * /launch route signs the staff member in, and a staff page answers.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import type express from 'express';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { KohaBuilder } from '../../sidecar/fixture';
import { migrate } from '../../sidecar/db';

const PLUGIN_LIB = path.resolve(__dirname, '../../plugin-manifest/koha-plugin');
const SECRET = 'bibliotekets delade hemlighet ✓ åäö';

/** Runs a line of Perl with LaunchToken.pm loaded and nothing but core modules. */
function perl(code: string, env: Record<string, string> = {}) {
  const r = spawnSync(
    'perl',
    ['-I', PLUGIN_LIB, '-MKoha::Plugin::Org::KohaMessageCenter::LaunchToken=make_launch_token,launch_url', '-e', code],
    {
      encoding: 'utf8',
      env: { ...process.env, KMC_T_SECRET: SECRET, ...env },
      timeout: 20_000,
    },
  );
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
}

/** A token made by the plugin's Perl for `now` (seconds). */
function perlToken(borrowernumber: number, now: number): string {
  return perl(`print make_launch_token($ENV{KMC_T_SECRET}, ${borrowernumber}, ${now})`);
}

describe(`launch token: the whole hop from the plugin to a signed-in page (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let db: KohaDatabase;
  let services: ReturnType<typeof testServices>;
  let app: express.Express;
  let clock: TestClock;
  let staff: number;
  let patron: number;
  const now = () => Math.floor(clock.now().getTime() / 1000);

  before(async () => {
    db = await createKohaDatabase('plugin_token');
    await migrate(db.knex);
    const k = new KohaBuilder(db.knex);
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket' });
    await k.category({ code: 'ST', description: 'Personal', categoryType: 'S', overdueNoticeRequired: false });
    // superlibrarian: Koha's bit 0 of borrowers.flags
    staff = await k.patron({ surname: 'Lund', firstname: 'Anna', userid: 'anna', branchcode: 'CPL', categorycode: 'ST', flags: 1 });
    patron = await k.patron({ surname: 'Öberg', firstname: 'Åsa', branchcode: 'CPL', categorycode: 'ST' });
    clock = new TestClock(new Date());
    const settings = testSettings(db.url, { KMC_SECRET: SECRET });
    services = testServices(settings, clock);
    app = services.web;
  });

  after(async () => {
    await services.close();
    await db.drop();
  });

  /** The path and query of the plugin's own launch link (Perl's launch_url). */
  function perlLaunchPath(token: string, next: string): string {
    const url = new URL(
      perl(`print launch_url('http://sidecar.invalid', $ENV{KMC_T_TOKEN}, $ENV{KMC_T_NEXT})`, { KMC_T_TOKEN: token, KMC_T_NEXT: next }),
    );
    return url.pathname + url.search;
  }

  it("the plugin's link signs the staff member in, and the page they asked for answers 200", async () => {
    const link = perlLaunchPath(perlToken(staff, now()), '/archive');
    const launched = await request(app).get(link);
    expect(launched.status).to.equal(303);
    expect(launched.headers.location).to.equal('/archive');
    const cookies = ([] as string[]).concat(launched.headers['set-cookie'] ?? []);
    const session = cookies.find((c) => /^kmc_session=/.test(c));
    expect(session, cookies.join(' | ')).to.be.a('string');
    expect(session).to.match(/HttpOnly/i);

    const page = await request(app).get('/archive').set('Cookie', session!.split(';')[0]);
    expect(page.status).to.equal(200);
    expect(page.type).to.equal('text/html');

    const without = await request(app).get('/archive');
    expect(without.status).to.equal(303);
    expect(without.headers.location).to.match(/^\/signin/);
  });

  it('opens the patron tab the plugin names, and that page answers 200', async () => {
    const launched = await request(app).get(perlLaunchPath(perlToken(staff, now()), `/patrons/${patron}/messages`));
    expect(launched.status).to.equal(303);
    expect(launched.headers.location).to.equal(`/patrons/${patron}/messages`);
    const cookie = ([] as string[]).concat(launched.headers['set-cookie'] ?? []).find((c) => /^kmc_session=/.test(c))!;
    const page = await request(app).get(launched.headers.location).set('Cookie', cookie.split(';')[0]);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('Öberg');
  });

  it('refuses the same token the second time', async () => {
    const link = perlLaunchPath(perlToken(staff, now()), '/archive');
    expect((await request(app).get(link)).status).to.equal(303);
    const again = await request(app).get(link);
    expect(again.status).to.equal(403);
    expect(again.headers['set-cookie'] ?? []).to.deep.equal([]);
    expect(await db.knex('kmc_launch_nonces').count({ n: '*' }).first()).to.deep.equal({ n: 3 });
  });

  it("refuses the plugin's token once it is old, or with a byte changed, and signs no one in", async () => {
    const old = perlToken(staff, now() - 121);
    const fresh = perlToken(staff, now());
    const changed = fresh.slice(0, 3) + (fresh[3] === '9' ? '8' : '9') + fresh.slice(4);
    for (const token of [old, changed]) {
      const res = await request(app).get(perlLaunchPath(token, '/archive'));
      expect(res.status, token).to.equal(403);
      expect(res.headers['set-cookie'] ?? []).to.deep.equal([]);
    }
    // the refusals did not use up the fresh token's nonce
    expect((await request(app).get(perlLaunchPath(fresh, '/archive'))).status).to.equal(303);
  });

  it('sends a next that leaves the sidecar to / instead', async () => {
    const res = await request(app).get(`/launch?token=${perlToken(staff, now())}&next=${encodeURIComponent('//evil.example/x')}`);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/');
  });
});
