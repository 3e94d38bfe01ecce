/**
 * The rules page against a real MariaDB: the matrix and who wins in plain
 * words, the "who wins for…" form, add/change/remove each behind its own
 * permission, the own-branch limit, the baseline that cannot be removed,
 * CSRF, escaping and the audit record.
 */
import { expect } from 'chai';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { TestClock } from '../support/sidecar';
import type { Running } from '../../sidecar/serve';
import { explainRule } from '../../sidecar/web/pages/rules';
import type { Rule } from '../../sidecar/rules';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

const rule = (id: number, over: Partial<Rule>): Rule => ({
  id,
  message_type: 'overdue',
  level: 1,
  branchcode: null,
  categorycode: null,
  itemtype: null,
  valid_from: null,
  valid_to: null,
  is_used: true,
  delay_days: 7,
  channels: ['email'],
  send_all_channels: false,
  template_code: null,
  fee_per_notice: 0,
  fee_per_item: 0,
  digest: false,
  is_baseline: false,
  ...over,
});

describe('explainRule: the winner and why', () => {
  const base = rule(1, { is_baseline: true });
  const cat = rule(2, { categorycode: 'KI' });
  const branch = rule(3, { branchcode: 'CPL' });
  const subject = { branchcode: 'CPL', categorycode: 'KI', itemtype: 'BK', date: '2026-11-24' };
  it('a branch rule outranks a category rule', () => {
    const e = explainRule([base, cat, branch], subject);
    expect([e.winner?.id, e.runnerUp?.id, e.reason]).to.deep.equal([3, 2, 'branch']);
  });
  it('a category rule outranks the baseline; the baseline alone is "only"', () => {
    expect(explainRule([base, cat], subject).reason).to.equal('category');
    expect(explainRule([base], subject).reason).to.equal('only');
  });
  it('equal rules: a window wins, then the newer', () => {
    expect(explainRule([rule(4, { categorycode: 'KI', valid_from: '2026-11-01' }), cat], subject).reason).to.equal('window');
    expect(explainRule([cat, rule(5, { categorycode: 'KI' })], subject)).to.include({ reason: 'newer' });
  });
});

describe(`the rules page (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let running: Running;
  let clock: TestClock;
  let boss: StaffSession;
  const n: Record<string, number> = {};
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const as = (who: string) => StaffSession.launch(running.server, running.services.settings.secret, n[who], now());

  before(async () => {
    sidecar = await startStaffSidecar('web_rules', {
      boss: { userid: 'boss', surname: 'Chef', modules: ['catalogue', 'parameters'], branchcode: 'CPL', categorycode: 'PT' },
      circ: {
        userid: 'circ',
        surname: 'Regler',
        modules: ['catalogue'],
        subs: [['parameters', 'manage_circ_rules']],
        branchcode: 'CPL',
        categorycode: 'PT',
      },
      trig: {
        userid: 'trig',
        surname: 'Trigger',
        modules: ['catalogue'],
        subs: [['tools', 'edit_notice_status_triggers']],
        branchcode: 'CPL',
        categorycode: 'PT',
      },
      none: { userid: 'none', surname: 'Ingen', modules: ['catalogue', 'circulate'], branchcode: 'CPL', categorycode: 'PT' },
      haf: { userid: 'hafen', surname: 'Hafen', modules: ['catalogue', 'parameters'], branchcode: 'HAF', categorycode: 'PT' },
    });
    ({ db, running, clock } = sidecar);
    Object.assign(n, sidecar.n);
    boss = await as('boss');
  });

  after(async () => {
    await sidecar.stop();
  });

  const baseline = async () =>
    Number((await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).first('id')).id);

  it('adds a rule and explains in plain words that it wins', async () => {
    const res = await boss.post('/rules/new', {
      message_type: 'overdue',
      level: '1',
      branchcode: 'CPL',
      categorycode: 'KI',
      delay_days: '10',
      channels: ['sms', 'email'],
      is_used: '1',
      note: '<b>x</b>',
    });
    expect(res.status, res.text).to.equal(303);
    const id = Number(/^\/rules\/(\d+)/.exec(res.headers.location)![1]);
    const stored = await db.knex('kmc_rules').where({ id }).first();
    expect(stored).to.include({ branchcode: 'CPL', categorycode: 'KI', delay_days: 10, channels: 'sms,email', note: '<b>x</b>' });
    const page = await boss.get('/rules?type=overdue');
    expect(page.text).to.contain(
      `For patron category KI at branch CPL, rule #${id} wins: a branch rule outranks one for every branch (rule #${await baseline()}).`,
    );
    const who = await boss.get('/rules?w_type=overdue&w_level=1&w_branch=CPL&w_category=KI&w_itemtype=BK&w_date=2026-11-24');
    expect(who.text).to.contain(`For patron category KI item type BK at branch CPL on 2026-11-24, rule #${id} wins`);
    const elsewhere = await boss.get('/rules?w_type=overdue&w_level=1&w_branch=HAF&w_category=KI&w_date=2026-11-24');
    expect(elsewhere.text).to.contain(`rule #${await baseline()} wins: no other rule applies`);
    const audit = await db.knex('kmc_audit').where({ action: 'rule.create', object_id: String(id) });
    expect(audit).to.have.length(1);
  });

  it('refuses a bad rule with messages naming the field, storing nothing', async () => {
    const before = (await db.knex('kmc_rules').count({ c: '*' }))[0].c;
    const res = await boss.post('/rules/new', {
      message_type: 'overdue',
      level: '1',
      branchcode: 'CPL',
      delay_days: 'soon',
      valid_from: '2026-12-01',
      valid_to: '2026-11-01',
      is_used: '1',
    });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('Days after the due date (or the event): a whole number of days from 0 to 3650.');
    expect(res.text).to.contain('Valid to: the end comes before the start.');
    expect(res.text).to.contain('Channels: a notice that is sent needs at least one channel.');
    expect((await db.knex('kmc_rules').count({ c: '*' }))[0].c).to.equal(before);
  });

  it('the baseline has no remove button, and a POST to remove it is refused with the reason', async () => {
    const id = await baseline();
    const page = await boss.get(`/rules/${id}`);
    expect(page.text).to.not.contain(`action="/rules/${id}/remove"`);
    const res = await boss.post(`/rules/${id}/remove`, {});
    expect(res.status).to.equal(409);
    expect(res.text).to.contain(`Rule #${id} is the baseline rule`);
    expect(await db.knex('kmc_rules').where({ id }).first()).to.not.equal(undefined);
    expect(await db.knex('kmc_audit').where({ action: 'rule.remove_refused', object_id: String(id) })).to.have.length(1);
  });

  it('changes and removes a rule, audited', async () => {
    const id = Number((await db.knex('kmc_rules').where({ categorycode: 'KI', branchcode: 'CPL' }).first('id')).id);
    const changed = await boss.post(`/rules/${id}`, {
      branchcode: 'CPL',
      categorycode: 'KI',
      delay_days: '14',
      channels: 'print',
      is_used: '1',
    });
    expect(changed.status, changed.text).to.equal(303);
    expect(await db.knex('kmc_rules').where({ id }).first()).to.include({ delay_days: 14, channels: 'print' });
    const removed = await boss.post(`/rules/${id}/remove`, {});
    expect(removed.status).to.equal(303);
    expect(await db.knex('kmc_rules').where({ id }).first()).to.equal(undefined);
    expect(
      (
        await db
          .knex('kmc_audit')
          .whereIn('action', ['rule.update', 'rule.remove'])
          .where({ object_id: String(id) })
      )
        .map((a) => a.action)
        .sort(),
    ).to.deep.equal(['rule.remove', 'rule.update']);
  });

  it('answers 403 for each permission it lacks', async () => {
    const id = await baseline();
    const none = await as('none');
    expect((await none.get('/rules')).status).to.equal(403);
    const trig = await as('trig');
    expect((await trig.get('/rules')).status).to.equal(200);
    expect((await trig.get('/rules/new')).status).to.equal(403);
    expect((await trig.post('/rules/new', { message_type: 'welcome', channels: 'email', is_used: '1' })).status).to.equal(403);
    const circ = await as('circ');
    const made = await circ.post('/rules/new', { message_type: 'welcome', branchcode: 'CPL', channels: 'email', is_used: '1' });
    expect(made.status).to.equal(303);
    const madeId = Number(/(\d+)/.exec(made.headers.location)![1]);
    expect((await circ.post(`/rules/${madeId}/remove`, {})).status).to.equal(403);
    expect((await circ.post(`/rules/${id}`, { channels: 'email', is_used: '1', delay_days: '3' })).status).to.equal(303);
    expect((await none.post(`/rules/${id}`, { channels: 'email', is_used: '1' })).status).to.equal(403);
    expect(await db.knex('kmc_rules').where({ id: madeId }).first()).to.not.equal(undefined);
  });

  it('refuses a change without the CSRF token', async () => {
    const id = await baseline();
    const res = await boss.agent.post(`/rules/${id}`).type('form').send({ channels: 'sms', is_used: '1', delay_days: '1' });
    expect(res.status).to.equal(403);
    expect((await db.knex('kmc_rules').where({ id }).first()).channels).to.not.equal('sms');
  });

  it("with rules_own_branch_only, staff see the other branches' rules but cannot touch them", async () => {
    await db.knex('kmc_settings').insert({ name: 'rules_own_branch_only', value: '1' }).onConflict('name').merge();
    const [cplId] = await db
      .knex('kmc_rules')
      .insert({ message_type: 'predue', level: 0, branchcode: 'CPL', channels: 'email', is_used: 1, delay_days: 2 });
    const haf = await as('haf');
    const list = await haf.get('/rules?type=predue');
    expect(list.status).to.equal(200);
    expect(list.text).to.match(new RegExp(`id="rule-${cplId}"[\\s\\S]*?read only`));
    expect(list.text).to.not.contain(`action="/rules/${cplId}/remove"`);
    const page = await haf.get(`/rules/${cplId}`);
    expect(page.text).to.contain('belongs to another branch than yours (HAF)');
    expect((await haf.post(`/rules/${cplId}`, { branchcode: 'HAF', channels: 'sms', is_used: '1' })).status).to.equal(403);
    expect((await haf.post(`/rules/${cplId}/remove`, {})).status).to.equal(403);
    expect((await haf.post('/rules/new', { message_type: 'predue', branchcode: 'CPL', channels: 'sms', is_used: '1' })).status).to.equal(
      403,
    );
    expect((await haf.post('/rules/new', { message_type: 'predue', branchcode: 'HAF', channels: 'sms', is_used: '1' })).status).to.equal(
      303,
    );
    expect(await db.knex('kmc_rules').where({ id: cplId }).first()).to.include({ branchcode: 'CPL', channels: 'email' });
    await db.knex('kmc_settings').where({ name: 'rules_own_branch_only' }).delete();
  });

  it("shows a rule's note as text, not markup", async () => {
    const [id] = await db.knex('kmc_rules').insert({
      message_type: 'welcome',
      level: 0,
      categorycode: 'PT',
      channels: 'email',
      is_used: 1,
      note: '"><script>alert(1)</script>',
    });
    const page = await boss.get(`/rules/${id}`);
    expect(page.text).to.not.contain('<script>alert(1)');
    expect(page.text).to.contain('&lt;script&gt;alert(1)');
  });
});
