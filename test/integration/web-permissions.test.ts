/**
 * Koha's permissions on the sidecar's pages: the mapping from borrowers.flags
 * and user_permissions, the navigation each staff member sees, the 403 of
 * every page they may not use, and that every page shows a patron named
 * `<script>alert(1)</script>` as text.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testSettings, BY_HAND } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { startServer, type Running } from '../../sidecar/serve';
import { createMemoryLogger } from '../../sidecar/logging';
import { permissionsOf, PERMISSIONS, hasStaffAccess } from '../../sidecar/web/auth/permissions';
import { USER_FLAGS, type UserFlag } from '../../sidecar/fixture';
import { addStaff, StaffSession } from './web-support';

const bits = (...modules: UserFlag[]) => modules.reduce((s, m) => s + 2 ** USER_FLAGS[m], 0);
const sub = (module: UserFlag, code: string) => ({ module_bit: USER_FLAGS[module], code });

describe('the permission mapping from Koha', () => {
  const cases: Array<[string, number, Array<{ module_bit: number; code: string }>, string[]]> = [
    ['superlibrarian: everything', bits('superlibrarian'), [], [...PERMISSIONS]],
    ['catalogue only: signs in, sees nothing', bits('catalogue'), [], []],
    [
      "tools: routines, templates, the queue, patrons' messages",
      bits('catalogue', 'tools'),
      [],
      ['routines', 'templates', 'queue', 'patron_messages', 'dashboard'],
    ],
    [
      'parameters: rules, templates, settings',
      bits('catalogue', 'parameters'),
      [],
      ['templates', 'rules', 'settings', 'rules_add', 'rules_change', 'rules_remove', 'templates_edit'],
    ],
    ["circulate: the queue and patrons' messages", bits('catalogue', 'circulate'), [], ['queue', 'patron_messages', 'dashboard']],
    ["borrowers: patrons' messages", bits('catalogue', 'borrowers'), [], ['patron_messages']],
    ['tools › edit_notices: templates only', bits('catalogue'), [sub('tools', 'edit_notices')], ['templates', 'templates_edit']],
    [
      'tools › edit_notice_status_triggers: routines and rules',
      bits('catalogue'),
      [sub('tools', 'edit_notice_status_triggers')],
      ['routines', 'rules', 'rules_change'],
    ],
    [
      'parameters › manage_circ_rules: rules',
      bits('catalogue'),
      [sub('parameters', 'manage_circ_rules')],
      ['rules', 'rules_add', 'rules_change'],
    ],
    ['parameters › manage_sysprefs: settings', bits('catalogue'), [sub('parameters', 'manage_sysprefs')], ['settings']],
    [
      'circulate › circulate_remaining_permissions: queue and messages',
      bits('catalogue'),
      [sub('circulate', 'circulate_remaining_permissions')],
      ['queue', 'patron_messages', 'dashboard'],
    ],
    ['borrowers › edit_borrowers: messages', bits('catalogue'), [sub('borrowers', 'edit_borrowers')], ['patron_messages']],
    [
      'a sub-permission of another module does not count',
      bits('catalogue'),
      [{ module_bit: USER_FLAGS.plugins, code: 'edit_notices' }],
      [],
    ],
    ['no catalogue: nothing, whatever else', bits('tools', 'parameters', 'circulate'), [sub('tools', 'edit_notices')], []],
    ['NULL flags: nothing', 0, [], []],
  ];
  for (const [what, flags, subs, expected] of cases) {
    it(what, () => {
      expect([...permissionsOf(flags, subs)].sort()).to.deep.equal([...expected].sort());
    });
  }

  it('reads bits above 31 of the BIGINT without 32-bit surprises', () => {
    const high = 2 ** 40 + bits('catalogue', 'tools');
    expect(hasStaffAccess(high)).to.equal(true);
    expect(permissionsOf(high, []).has('routines')).to.equal(true);
    expect(hasStaffAccess(2 ** 40)).to.equal(false);
  });
});

describe(`what each staff member may see and open (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let clock: TestClock;
  const logins: Record<string, StaffSession> = {};
  let messageId: number;
  let runId: number;

  const now = () => Math.floor(clock.now().getTime() / 1000);

  before(async () => {
    db = await createKohaDatabase('web_perms');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    await db
      .knex('borrowers')
      .where({ borrowernumber: lib.patrons.asa })
      .update({ firstname: '<script>alert(1)</script>', cardnumber: '<b>card</b>' });
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
    running = await startServer(testSettings(db.url, { KMC_PORT: '0' }), {
      jobs: BY_HAND,
      logger: createMemoryLogger(),
      clock,
      deliverEveryMs: 3_600_000,
      verifyEveryMs: 0,
    });
    const result = await runNotices(running.services.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test', needsApproval: true });
    runId = result.runId!;
    messageId = Number((await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first('id')).id);
    // One message in the queue, with the patron's name in it.
    await db
      .knex('kmc_messages')
      .where({ borrowernumber: lib.patrons.anna })
      .update({ status: 'failed', status_reason: 'SMTP 550 <i>no</i>' });
    const people: Record<string, { modules?: UserFlag[]; subs?: Array<[UserFlag, string]> }> = {
      superlibrarian: { modules: ['superlibrarian'] },
      cataloguer: { modules: ['catalogue'] },
      tools: { modules: ['catalogue', 'tools'] },
      desk: { modules: ['catalogue', 'circulate'] },
      patrons: { modules: ['catalogue'], subs: [['borrowers', 'edit_borrowers']] },
    };
    for (const [userid, p] of Object.entries(people)) {
      const n = await addStaff(lib.builder, { userid, surname: userid, branchcode: 'CPL', categorycode: 'PT', ...p });
      logins[userid] = await StaffSession.launch(running.server, running.services.settings.secret, n, now());
    }
  });

  after(async () => {
    await running.stop();
    await db.drop();
  });

  const pages = () => ({
    routines: [
      '/routines',
      '/routines/new',
      '/runs',
      `/runs/${runId}`,
      `/runs/${runId}/items`,
      `/runs/${runId}/letters.pdf`,
      `/runs/${runId}/pick-list`,
      `/runs/${runId}/sms-errors`,
      `/runs/${runId}/status`,
    ],
    patron_messages: [
      '/archive',
      `/archive/${messageId}`,
      `/archive/${messageId}/print`,
      `/patrons/${lib.patrons.asa}/messages`,
      '/api/messages',
    ],
    queue: ['/queue'],
    audit: ['/audit'],
  });
  const allowed: Record<string, string[]> = {
    superlibrarian: ['routines', 'patron_messages', 'queue', 'audit'],
    cataloguer: [],
    tools: ['routines', 'patron_messages', 'queue'],
    desk: ['patron_messages', 'queue'],
    patrons: ['patron_messages'],
  };

  for (const [who, may] of Object.entries(allowed)) {
    it(`${who}: opens the pages of ${may.join(', ') || 'nothing'}, and gets 403 for the rest`, async () => {
      for (const [permission, paths] of Object.entries(pages())) {
        for (const path of paths) {
          const res = await logins[who].get(path);
          if (may.includes(permission)) expect(res.status, `${who} ${path}`).to.equal(200);
          else {
            expect(res.status, `${who} ${path}`).to.equal(403);
            if (path.startsWith('/api/')) expect(res.body.error).to.equal('KMC_FORBIDDEN');
            else expect(res.text).to.contain('Your Koha permissions do not allow this page.');
          }
        }
      }
    });
  }

  it('refuses the forms of a page just as its view: 403 for a POST without the permission', async () => {
    const desk = logins.desk;
    const routine = await db.knex('kmc_routines').first('id');
    expect((await desk.post(`/routines/${routine.id}/run`, {})).status).to.equal(403);
    expect((await desk.post(`/runs/${runId}/review`, { do: 'approve' })).status).to.equal(403);
    expect((await logins.patrons.post('/queue', { action: 'cancel', ids: [String(messageId)] })).status).to.equal(403);
    expect(await db.knex('kmc_run_approvals').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('shows in the navigation only the pages a staff member may use', async () => {
    const nav = async (who: string, path: string) => {
      const html = (await logins[who].get(path)).text;
      const bar = html.slice(html.indexOf('<nav'), html.indexOf('</nav>'));
      return [...bar.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1]);
    };
    expect(await nav('superlibrarian', '/archive')).to.deep.equal([
      '/routines',
      '/archive',
      '/queue',
      '/letters',
      '/dashboard',
      '/rules',
      '/templates',
      '/settings',
      '/audit',
    ]);
    expect(await nav('tools', '/archive')).to.deep.equal(['/routines', '/archive', '/queue', '/letters', '/dashboard', '/templates']);
    expect(await nav('desk', '/archive')).to.deep.equal(['/archive', '/queue', '/letters', '/dashboard']);
    expect(await nav('patrons', '/archive')).to.deep.equal(['/archive']);
    // No page at all: no navigation, and the start page says why.
    const start = await logins.cataloguer.get('/');
    expect(start.status).to.equal(403);
    expect(start.text).not.to.contain('<nav');
    expect(start.text).to.contain('allow none of the Message Center');
  });

  it('sends each staff member from / to the first page they may use', async () => {
    expect((await logins.tools.get('/')).headers.location).to.equal('/routines');
    expect((await logins.desk.get('/')).headers.location).to.equal('/archive');
  });

  it('shows a patron named <script>alert(1)</script> as text on every page that names patrons', async () => {
    const paths = [
      '/archive',
      `/archive?q=${encodeURIComponent('Öberg')}`,
      `/archive/${messageId}`,
      `/archive/${messageId}/print`,
      `/patrons/${lib.patrons.asa}/messages`,
      `/runs/${runId}`,
      '/queue',
    ];
    await db.knex('kmc_messages').where({ id: messageId }).update({ status: 'failed' });
    for (const path of paths) {
      const res = await logins.superlibrarian.get(path);
      expect(res.status, path).to.equal(200);
      expect(res.text, path).not.to.contain('<script>alert(1)</script>');
      expect(res.text, path).not.to.contain('<b>card</b>');
      expect(res.text, path).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
    const queue = await logins.superlibrarian.get('/queue');
    expect(queue.text).to.contain('SMTP 550 &lt;i&gt;no&lt;/i&gt;');
    // The only scripts on a page are the sidecar's own file.
    const scripts = [...queue.text.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
    expect(scripts).to.deep.equal(['<script src="/assets/kmc.js" defer>']);
  });
});
