/**
 * Helpers for the staff-page tests: staff logins in the Koha fixture (with
 * the demo password's bcrypt hash, as Koha stores it) and a signed-in
 * browser-like agent that keeps its cookies and sends the CSRF token.
 */
import type { Server } from 'node:http';
import type express from 'express';
import request from 'supertest';
import { expect } from 'chai';
import { DEMO_PASSWORD_HASH, USER_FLAGS, type KohaBuilder, type UserFlag } from '../../sidecar/fixture';
import { signLaunchToken } from '../../sidecar/web/auth/launch-token';
import { createKohaDatabase, type KohaDatabase } from '../support/koha';
import { buildSmallLibrary, type SmallLibrary } from '../support/library';
import { TestClock, testSettings, BY_HAND } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { startServer, type Running } from '../../sidecar/serve';
import type { AppOptions } from '../../sidecar/main';
import { createMemoryLogger } from '../../sidecar/logging';
import { MailCapture } from '../../sidecar/demo/capture-smtp';

export { DEMO_PASSWORD } from '../../sidecar/fixture';

export interface StaffInput {
  userid: string;
  surname: string;
  firstname?: string;
  /** Whole modules, as borrowers.flags bits. */
  modules?: UserFlag[];
  /** Sub-permissions, as user_permissions rows. */
  subs?: Array<[UserFlag, string]>;
  branchcode: string;
  categorycode: string;
  lang?: string;
}

/** A staff login whose password is the demo password. */
export async function addStaff(k: KohaBuilder, s: StaffInput): Promise<number> {
  const flags = (s.modules ?? []).reduce((sum, m) => sum + 2 ** USER_FLAGS[m], 0);
  const n = await k.patron({
    surname: s.surname,
    firstname: s.firstname ?? 'Staff',
    userid: s.userid,
    password: DEMO_PASSWORD_HASH,
    flags,
    branchcode: s.branchcode,
    categorycode: s.categorycode,
    lang: s.lang,
  });
  for (const [flag, code] of s.subs ?? []) await k.grantPermission(n, flag, code);
  return n;
}

type App = express.Express | Server;

/** The CSRF token a page's forms carry. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  expect(m, 'the page has a form with a CSRF token').to.not.equal(null);
  return m![1];
}

/** A signed-in staff member: cookies kept between requests, the CSRF token sent with every form. */
export class StaffSession {
  private csrf: string | null = null;

  private constructor(readonly agent: ReturnType<typeof request.agent>) {}

  /** Signs in as the Koha plugin does: a launch token for `nowSeconds` (the sidecar's clock). */
  static async launch(app: App, secret: string, borrowernumber: number, nowSeconds: number): Promise<StaffSession> {
    const agent = request.agent(app);
    const res = await agent.get(`/launch?token=${signLaunchToken(secret, borrowernumber, nowSeconds)}&next=/`);
    expect(res.status, res.text).to.equal(303);
    return new StaffSession(agent);
  }

  /** Signs in with the sign-in form. */
  static async signIn(app: App, userid: string, password: string): Promise<StaffSession> {
    const agent = request.agent(app);
    const form = await agent.get('/signin');
    const res = await agent
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfOf(form.text), userid, password, next: '/' });
    expect(res.status, res.text).to.equal(303);
    return new StaffSession(agent);
  }

  get(path: string) {
    return this.agent.get(path);
  }

  /** Fetches the session's CSRF token once, from a page every staff member may see. */
  async token(): Promise<string> {
    if (!this.csrf) {
      // Every page of a signed-in session carries the token (the sign-out form), a "not found" page too.
      const page = await this.agent.get('/no-such-page');
      this.csrf = csrfOf(page.text);
    }
    return this.csrf;
  }

  async post(path: string, fields: Record<string, string | string[]>) {
    return this.agent
      .post(path)
      .type('form')
      .send({ ...fields, _csrf: await this.token() });
  }
}

/**
 * A sidecar serving the staff pages for one test file: a scratch Koha
 * database with the small library, these staff logins, a real SMTP capture
 * server and a clock the test moves. Delivery and scans wait for the test.
 */
export interface StaffSidecar {
  db: KohaDatabase;
  lib: SmallLibrary;
  running: Running;
  mail: MailCapture;
  clock: TestClock;
  /** Borrowernumbers of the staff logins, by the names given. */
  n: Record<string, number>;
  stop(): Promise<void>;
}

export async function startStaffSidecar(
  label: string,
  staff: Record<string, StaffInput>,
  opts: { env?: Record<string, string>; at?: string; extend?: AppOptions['extend'] } = {},
): Promise<StaffSidecar> {
  const db = await createKohaDatabase(label);
  await migrate(db.knex);
  const lib = await buildSmallLibrary(db.knex);
  const n: Record<string, number> = {};
  for (const [name, s] of Object.entries(staff)) n[name] = await addStaff(lib.builder, s);
  const mail = new MailCapture();
  await mail.start();
  const clock = new TestClock(new Date(opts.at ?? '2026-11-24T09:00:00Z'));
  const running = await startServer(testSettings(db.url, { KMC_PORT: '0', KMC_SMTP_URL: mail.url, ...opts.env }), {
    jobs: BY_HAND,
    logger: createMemoryLogger(),
    clock,
    deliverEveryMs: 3_600_000,
    verifyEveryMs: 0,
    extend: opts.extend,
  });
  return {
    db,
    lib,
    running,
    mail,
    clock,
    n,
    async stop() {
      await running.stop();
      await mail.stop();
      await db.drop();
    },
  };
}

/** The id of the one message each overdue patron of the small library got. */
export async function overdueMessageIds(
  sidecar: Pick<StaffSidecar, 'db' | 'lib'>,
): Promise<Record<'asa' | 'jurgen' | 'soren' | 'anna', number>> {
  const byPatron = async (n: number) => Number((await sidecar.db.knex('kmc_messages').where({ borrowernumber: n }).first('id')).id);
  const p = sidecar.lib.patrons;
  return { asa: await byPatron(p.asa), jurgen: await byPatron(p.jurgen), soren: await byPatron(p.soren), anna: await byPatron(p.anna) };
}
