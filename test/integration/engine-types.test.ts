/**
 * The message types besides overdue levels (holds, welcome, staff messages),
 * rendering a stored message again for another channel, the rule import
 * from Koha, the baseline that cannot be deleted, and which branch's rules
 * apply.
 */
import { expect } from 'chai';
import request from 'supertest';
import express from 'express';
import { kohaSchemaKind } from '../support/koha';
import { main, reportError } from '../../sidecar/cli';
import { runNotices, renderAgain, sendStaffMessage } from '../../sidecar/notices';
import { staffMessageApi, apiErrorHandler } from '../../sidecar/web';
import { importKohaRules } from '../../sidecar/rules/import-koha';
import { startServer, type Running } from '../../sidecar/serve';
import { testSettings, BY_HAND } from '../support/sidecar';
import { createMemoryLogger } from '../../sidecar/logging';
import { addStaff, StaffSession } from './web-support';
import { engineWorld, stored, clearMessages, type EngineWorld, centralLibrary } from './engine-support';

const RUN_DAY = '2026-11-24';

async function kmc(args: string[], env: Record<string, string>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = { stdout: (s: string) => stdout.push(s), stderr: (s: string) => stderr.push(s) };
  const code = await main(args, env, out).catch((err: unknown) => reportError(err, out));
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

describe(`holds, welcome, staff messages, rendering again, rules (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let env: Record<string, string>;
  const who: Record<string, number> = {};
  const holds: Record<string, number> = {};

  const run = (type: string, date = RUN_DAY) => runNotices(w.kmc.notices, { type, date, startedBy: 'test' });

  before(async () => {
    w = await engineWorld('types', { now: `${RUN_DAY}T09:00:00Z` });
    env = {
      KMC_DATABASE_URL: w.db.url,
      KMC_SMTP_URL: 'smtp://127.0.0.1:1?tls=off',
      KMC_LOG_LEVEL: 'error',
      KMC_PRINT_DIR: `/tmp/kmc-types-${process.pid}`,
      // The command line reads the same library as the runs above, which tell every waiting hold.
      KMC_FIRST_RUN_HOLDS: 'notify',
      KMC_FIRST_RUN_OVERDUE: 'all-levels',
    };
    const { k } = w;
    await centralLibrary(k);
    await k.branch({ code: 'HAF', name: 'Stadtbibliothek am Hafen', email: 'hafen@stadtbibliothek.example.net', city: 'Hamburg' });
    await k.category({ code: 'KI', description: 'Barn' });
    await k.systemPreference('dateformat', 'metric');
    who.asa = await k.patron({
      surname: 'Öberg',
      firstname: 'Åsa',
      email: 'asa@example.org',
      mobile: '070-123 45 67',
      lang: 'sv-SE',
      branchcode: 'CPL',
      categorycode: 'PT',
      address: 'Ängsvägen 3',
      zipcode: '123 45',
      city: 'Solna',
      dateenrolled: '2020-01-01',
    });
    who.jurgen = await k.patron({
      surname: 'Müller',
      firstname: 'Jürgen',
      email: 'juergen@example.net',
      lang: 'de-DE',
      branchcode: 'HAF',
      categorycode: 'PT',
      dateenrolled: '2020-01-01',
    });
    who.new1 = await k.patron({
      surname: 'Ny',
      firstname: 'Nils',
      email: 'nils@example.org',
      lang: 'sv-SE',
      branchcode: 'CPL',
      categorycode: 'PT',
      dateenrolled: RUN_DAY,
    });
    const bib = async (title: string) => k.biblio({ title, author: 'Lagerlöf, Selma' });
    const item = async (b: number, branch = 'CPL') => k.item({ biblionumber: b, homebranch: branch, itype: 'BK' });
    // Åsa picks up at the harbour: the notice comes from there.
    const b1 = await bib('Nils Holgerssons underbara resa');
    holds.asaHaf = await k.hold({
      borrowernumber: who.asa,
      biblionumber: b1,
      branchcode: 'HAF',
      itemnumber: await item(b1, 'HAF'),
      found: 'W',
      waitingdate: RUN_DAY,
      expirationdate: '2026-12-01',
    });
    const b2 = await bib('Gösta Berlings saga');
    holds.asaSoon = await k.hold({
      borrowernumber: who.asa,
      biblionumber: b2,
      branchcode: 'CPL',
      itemnumber: await item(b2),
      found: 'W',
      waitingdate: '2026-11-19',
      expirationdate: '2026-11-26',
    });
    const b3 = await bib('Der Zauberberg');
    holds.jurgen = await k.hold({
      borrowernumber: who.jurgen,
      biblionumber: b3,
      branchcode: 'HAF',
      itemnumber: await item(b3, 'HAF'),
      found: 'W',
      waitingdate: RUN_DAY,
      expirationdate: '2026-12-01',
    });
    const b4 = await bib('In transit');
    await k.hold({ borrowernumber: who.jurgen, biblionumber: b4, branchcode: 'HAF', itemnumber: await item(b4), found: 'T' });
    await k.messagePreference({ borrowernumber: who.jurgen, message: 'Hold_Filled', transports: ['print'] });
  });

  after(async () => {
    await w.close();
  });

  beforeEach(async () => {
    await clearMessages(w.db.knex);
    w.clock.set(`${RUN_DAY}T09:00:00Z`);
  });

  describe('hold notices', () => {
    it('a waiting hold: from the pickup branch, naming the last pickup day; once', async () => {
      const result = await run('hold_waiting');
      expect(result.created).to.equal(3);
      const asa = (await stored(w.db.knex, { borrowernumber: who.asa })).sort((x, y) =>
        String(x.branchcode).localeCompare(String(y.branchcode)),
      );
      // Two pickup branches: two messages, each from its branch.
      expect(asa.map((m) => [m.branchcode, m.from_address, m.items.map((i) => i.reserve_id)])).to.deep.equal([
        ['CPL', 'Centralbiblioteket <central@bibliotek.example.org>', [holds.asaSoon]],
        ['HAF', 'Stadtbibliothek am Hafen <hafen@stadtbibliothek.example.net>', [holds.asaHaf]],
      ]);
      expect(asa[1].subject).to.equal('Din reservation finns att hämta på Stadtbibliothek am Hafen');
      expect(asa[1].body_text).to.contain('Hämta senast 01/12/2026').and.contain('Nils Holgerssons underbara resa');
      expect(asa[1].items[0].coverage_key).to.equal(`hold_waiting:0:hold:${holds.asaHaf}`);
      // Jürgen chose letters for holds in Koha; the hold in transit is not waiting yet.
      const jurgen = await stored(w.db.knex, { borrowernumber: who.jurgen });
      expect(jurgen.map((m) => [m.channel, m.items.length])).to.deep.equal([['print', 1]]);
      expect(jurgen[0].body_text).to.contain('liegt in Stadtbibliothek am Hafen zur Abholung bereit');
      expect((await run('hold_waiting')).created).to.equal(0);
    });

    it("a pickup reminder N days (the rule's delay) before the hold expires on the shelf", async () => {
      const early = await run('hold_reminder', '2026-11-23');
      expect(early.created).to.equal(0);
      const onTime = await run('hold_reminder', RUN_DAY);
      expect(onTime.created).to.equal(1);
      const [m] = await stored(w.db.knex);
      expect(m.items.map((i) => i.reserve_id)).to.deep.equal([holds.asaSoon]);
      expect(m.subject).to.equal('Påminnelse: hämta din reservation på Centralbiblioteket senast 26/11/2026');
      expect((await run('hold_reminder', '2026-11-25')).created).to.equal(0);
    });
  });

  describe('welcome messages', () => {
    it('greets patrons added since the last run, each once', async () => {
      const first = await run('welcome');
      expect((await stored(w.db.knex)).map((m) => m.borrowernumber)).to.deep.equal([who.new1]);
      expect(first.created).to.equal(1);
      const [m] = await stored(w.db.knex);
      expect(m.subject).to.equal('Välkommen till Centralbiblioteket');
      expect(m.body_text).to.contain(`Ditt lånekortsnummer är `);
      const later = await w.k.patron({
        surname: 'Senare',
        firstname: 'Sara',
        email: 'sara@example.org',
        branchcode: 'CPL',
        categorycode: 'PT',
        dateenrolled: '2026-11-26',
      });
      const again = await run('welcome', '2026-11-27');
      expect(again.created).to.equal(1);
      expect((await stored(w.db.knex)).map((x) => x.borrowernumber)).to.deep.equal([who.new1, later]);
      expect((await run('welcome', '2026-11-27')).created).to.equal(0);
    });
  });

  describe('messages from staff', () => {
    it("by e-mail or SMS, from the patron's branch, in the patron's language; refused with a reason when the channel cannot carry it", async () => {
      w.kmc.notices.availableChannels = ['email', 'sms', 'print'];
      try {
        const email = await sendStaffMessage(w.kmc.notices, {
          borrowernumber: who.asa,
          channel: 'email',
          text: 'Din bok har hittats.\nVälkommen in!',
          subject: 'Hittegods',
          actor: '42',
        });
        expect(email).to.include({ channel: 'email', status: 'pending', duplicate: false });
        const [m] = await stored(w.db.knex, { id: email.id });
        expect(m).to.include({
          message_type: 'staff_message',
          to_address: 'asa@example.org',
          from_address: 'Centralbiblioteket <central@bibliotek.example.org>',
          subject: 'Hittegods',
          lang: 'sv',
        });
        expect(m.body_text).to.contain('Hej Åsa Öberg').and.contain('Din bok har hittats.\nVälkommen in!');
        expect((await w.kmc.store.events(email.id))[0]).to.include({ actor: '42', status: 'pending' });

        const sms = await sendStaffMessage(w.kmc.notices, {
          borrowernumber: who.asa,
          channel: 'sms',
          text: 'Boken finns att hämta.',
          actor: '42',
        });
        expect((await stored(w.db.knex, { id: sms.id }))[0]).to.include({
          channel: 'sms',
          to_address: '+46701234567',
          body_text: 'Centralbiblioteket: Boken finns att hämta.\n',
        });

        // The same request key twice (a form sent twice) stores one message.
        const a = await sendStaffMessage(w.kmc.notices, {
          borrowernumber: who.asa,
          channel: 'email',
          text: 'Once',
          actor: '42',
          requestKey: 'form-123456',
        });
        const b = await sendStaffMessage(w.kmc.notices, {
          borrowernumber: who.asa,
          channel: 'email',
          text: 'Once',
          actor: '42',
          requestKey: 'form-123456',
        });
        expect([a.id === b.id, b.duplicate]).to.deep.equal([true, true]);

        const refusals: Array<[Parameters<typeof sendStaffMessage>[1], string]> = [
          [{ borrowernumber: who.jurgen, channel: 'sms', text: 'Hallo', actor: '42' }, 'KMC_NO_CONTACT'],
          [{ borrowernumber: 999999, channel: 'email', text: 'Hello', actor: '42' }, 'KMC_PATRON_NOT_FOUND'],
          [{ borrowernumber: who.asa, channel: 'fax', text: 'Hello', actor: '42' }, 'KMC_STAFF_MESSAGE_INVALID'],
          [{ borrowernumber: who.asa, channel: 'email', text: '   ', actor: '42' }, 'KMC_STAFF_MESSAGE_INVALID'],
          [{ borrowernumber: who.asa, channel: 'sms', text: 'x'.repeat(601), actor: '42' }, 'KMC_STAFF_MESSAGE_INVALID'],
        ];
        for (const [req, code] of refusals) {
          const err = await sendStaffMessage(w.kmc.notices, req).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, JSON.stringify(req).slice(0, 60)).to.have.property('code', code);
        }
        const why = await sendStaffMessage(w.kmc.notices, { borrowernumber: who.jurgen, channel: 'sms', text: 'Hallo', actor: '42' }).catch(
          (e: unknown) => e,
        );
        expect(why).to.have.property('message', 'the message cannot go by sms: sms: no mobile number');
      } finally {
        w.kmc.notices.availableChannels = ['email', 'print'];
      }
      // Nothing was stored for a refusal.
      expect((await stored(w.db.knex, { message_type: 'staff_message' })).length).to.equal(3);
    });

    it('from the command line: kmc message', async () => {
      const ok = await kmc(
        ['message', '--borrower', String(who.jurgen), '--channel', 'email', '--text', 'Ihr Ausweis ist fertig.', '--json'],
        env,
      );
      expect(ok.code, ok.stderr).to.equal(0);
      const result = JSON.parse(ok.stdout);
      expect(result).to.include({ channel: 'email', status: 'pending' });
      expect((await stored(w.db.knex, { id: result.id }))[0].body_text)
        .to.contain('Guten Tag Jürgen Müller')
        .and.contain('Ihr Ausweis ist fertig.');
      const bad = await kmc(['message', '--borrower', String(who.jurgen), '--channel', 'sms', '--text', 'x'], env);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.equal('kmc: SMS is not set up on this sidecar [KMC_CHANNEL_UNAVAILABLE]');
      const usage = await kmc(['message', '--borrower', 'x'], env);
      expect(usage).to.include({ code: 2 });
    });

    it('from the JSON API, its router on its own: 201, 200 for a repeated key, 400, 404, 409', async () => {
      const app = express();
      app.use('/api', staffMessageApi({ notices: w.kmc.notices, actorOf: () => 'api-test' }));
      app.use(apiErrorHandler(w.kmc.logger));
      const post = (borrower: string | number, body: unknown, key?: string) => {
        const r = request(app).post(`/api/patrons/${borrower}/messages`);
        if (key) r.set('Idempotency-Key', key);
        return r.send(body as object);
      };
      const created = await post(who.asa, { channel: 'email', text: 'Hej!' }, 'key-abcdef-1');
      expect(created.status).to.equal(201);
      expect(created.body.message).to.include({ channel: 'email', status: 'pending' });
      expect((await post(who.asa, { channel: 'email', text: 'Hej!' }, 'key-abcdef-1')).status).to.equal(200);
      expect((await post('abc', { channel: 'email', text: 'x' })).body.error).to.equal('KMC_STAFF_MESSAGE_INVALID');
      expect((await post(who.asa, { channel: 'email' })).status).to.equal(400);
      expect((await post(987654, { channel: 'email', text: 'x' })).status).to.equal(404);
      // SMS is not set up on this sidecar: 503; once it is, Jürgen has no mobile number: 409.
      const unavailable = await post(who.jurgen, { channel: 'sms', text: 'x' });
      expect([unavailable.status, unavailable.body.error]).to.deep.equal([503, 'KMC_CHANNEL_UNAVAILABLE']);
      w.kmc.notices.availableChannels = ['email', 'sms', 'print'];
      try {
        const conflict = await post(who.jurgen, { channel: 'sms', text: 'x' });
        expect([conflict.status, conflict.body.error, conflict.body.message]).to.deep.equal([
          409,
          'KMC_NO_CONTACT',
          'the message cannot go by sms: sms: no mobile number',
        ]);
      } finally {
        w.kmc.notices.availableChannels = ['email', 'print'];
      }
      expect((await w.kmc.store.events(created.body.message.id))[0].actor).to.equal('api-test');
    });

    it('from the JSON API of the running server, behind staff sign-in and the CSRF check', async () => {
      const staff = await addStaff(w.k, {
        userid: 'desk',
        surname: 'Desk',
        modules: ['catalogue', 'circulate'],
        branchcode: 'CPL',
        categorycode: 'PT',
      });
      let running: Running | null = null;
      try {
        running = await startServer(testSettings(w.db.url, { KMC_PORT: '0' }), {
          jobs: BY_HAND,
          logger: createMemoryLogger(),
          deliverEveryMs: 3_600_000,
          verifyEveryMs: 0,
        });
        const anonymous = await request(running.server).post(`/api/patrons/${who.asa}/messages`).send({ channel: 'email', text: 'x' });
        expect(anonymous.status).to.be.oneOf([401, 403, 303]);
        const session = await StaffSession.launch(running.server, running.services.settings.secret, staff, Math.floor(Date.now() / 1000));
        const noToken = await session.agent.post(`/api/patrons/${who.asa}/messages`).send({ channel: 'email', text: 'x' });
        expect(noToken.status).to.equal(403);
        const ok = await session.agent
          .post(`/api/patrons/${who.asa}/messages`)
          .set('x-csrf-token', await session.token())
          .send({ channel: 'email', text: 'Välkommen tillbaka!' });
        expect(ok.status, ok.text).to.equal(201);
        expect((await w.kmc.store.events(ok.body.message.id))[0].actor).to.equal(String(staff));
      } finally {
        await running?.stop();
      }
    });
  });

  describe('amounts', () => {
    it("follow Koha's CurrencyFormat and active currency; without Koha's currency table, the sidecar's own setting", async () => {
      const b = await w.k.biblio({ title: 'Jerusalem', author: 'Lagerlöf, Selma' });
      await w.k.loan({
        borrowernumber: who.jurgen,
        itemnumber: await w.k.item({ biblionumber: b, homebranch: 'HAF', itype: 'BK' }),
        dateDue: '2026-11-10',
        branchcode: 'HAF',
      });
      await w.db
        .knex('kmc_rules')
        .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
        .update({ fee_per_notice: 1000, fee_per_item: 2.5 });
      await w.k.systemPreference('CurrencyFormat', 'CH');
      await w.db.knex('kmc_settings').insert({ name: 'currency', value: 'EUR' });
      try {
        await run('overdue');
        expect((await stored(w.db.knex, { borrowernumber: who.jurgen }))[0].body_text).to.contain("Eine Mahngebühr von 1'002.50 EUR");
        // Koha keeps its active currency in a table of its own; where it is there, it wins.
        await w.db.knex.raw(
          'CREATE TABLE currency (currency VARCHAR(10) NOT NULL PRIMARY KEY, symbol VARCHAR(5) NULL, isocode VARCHAR(5) NULL, active TINYINT(1) NULL)',
        );
        await w.db.knex('currency').insert([
          { currency: 'DKK', symbol: 'kr.', isocode: 'DKK', active: 0 },
          { currency: 'CHF', symbol: 'Fr.', isocode: 'CHF', active: 1 },
        ]);
        await clearMessages(w.db.knex);
        await run('overdue');
        expect((await stored(w.db.knex, { borrowernumber: who.jurgen }))[0].body_text).to.contain("Eine Mahngebühr von 1'002.50 Fr.");
      } finally {
        await w.db.knex.raw('DROP TABLE IF EXISTS currency');
        await w.db.knex('kmc_settings').where({ name: 'currency' }).delete();
        await w.db.knex('systempreferences').where({ variable: 'CurrencyFormat' }).delete();
        await w.db
          .knex('kmc_rules')
          .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
          .update({ fee_per_notice: 0, fee_per_item: 0 });
        await w.db.knex('issues').where({ borrowernumber: who.jurgen }).delete();
      }
    });
  });

  describe('rendering a stored message again for another channel', () => {
    it('from the data it was made from, with the address the patron has now; SMS without the general text', async () => {
      const b = await w.k.biblio({ title: 'Röda rummet', author: 'Strindberg, August' });
      await w.k.loan({
        borrowernumber: who.asa,
        itemnumber: await w.k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
        dateDue: '2026-11-10',
        branchcode: 'CPL',
      });
      await runNotices(w.kmc.notices, {
        type: 'overdue',
        date: RUN_DAY,
        startedBy: 'test',
        messageToPatrons: 'Vi har stängt på julafton.',
      });
      const [m] = await stored(w.db.knex, { borrowernumber: who.asa });
      expect(m.channel).to.equal('email');
      expect(m.body_text).to.contain('Vi har stängt på julafton.');
      const row = (await w.db.knex('kmc_messages').where({ id: m.id }).first())!;
      w.kmc.notices.availableChannels = ['email', 'sms', 'print'];
      try {
        const letter = await renderAgain(w.kmc.notices, row, 'print');
        expect(letter).to.include({ channel: 'print', to: 'Åsa Öberg\nÄngsvägen 3\n123 45 Solna', reason: null, lang: 'sv', html: null });
        expect(letter.text).to.equal(m.body_text);
        const sms = await renderAgain(w.kmc.notices, row, 'sms');
        expect(sms).to.include({ channel: 'sms', to: '+46701234567' });
        expect(sms.text).to.contain('Centralbiblioteket').and.not.contain('julafton');
        const none = await renderAgain(w.kmc.notices, { ...row, borrowernumber: who.jurgen }, 'sms');
        expect([none.to, none.reason]).to.deep.equal([null, 'sms: no mobile number']);
      } finally {
        w.kmc.notices.availableChannels = ['email', 'print'];
      }
      const err = await renderAgain(w.kmc.notices, { ...row, render_data: null }, 'print').catch((e: unknown) => e);
      expect(err).to.have.property('code', 'KMC_NO_RENDER_DATA');
    });
  });

  describe('rules', () => {
    afterEach(async () => {
      await w.db.knex('kmc_rules').where({ is_baseline: 0 }).delete();
      await w.db.knex('kmc_settings').where({ name: 'rules_branch' }).update({ value: 'issuing' });
    });

    it("kmc rules import-koha makes equivalent rules from Koha's overdue triggers, and nothing twice", async () => {
      await w.k.overdueRule({
        categorycode: 'PT',
        levels: [
          { delay: 7, letter: 'ODUE', transports: ['email', 'sms'] },
          { delay: 21, letter: 'ODUE2', transports: ['email'] },
          { delay: 35, letter: 'ODUE3', transports: ['print'] },
        ],
      });
      await w.k.overdueRule({ branchcode: 'HAF', categorycode: 'PT', levels: [{ delay: 10, letter: 'ODUE', transports: ['print'] }] });
      await w.k.circulationRule({ categorycode: 'PT', itemtype: 'BK', name: 'overdue_1_delay', value: 3 });
      await w.k.circulationRule({ categorycode: 'PT', itemtype: 'BK', name: 'overdue_1_notice', value: 'ODUE' });
      await w.k.circulationRule({ categorycode: 'PT', itemtype: 'BK', name: 'overdue_1_mtt', value: 'sms,email' });
      try {
        const first = await kmc(['rules', 'import-koha'], env);
        expect(first.code, first.stderr).to.equal(0);
        expect(first.stdout).to.contain('created   rule').and.contain('created 9, updated 0, unchanged 0');
        const rules = (await w.kmc.rules.list({ messageType: 'overdue' })).filter((r) => r.import_key);
        const of = (key: string) => rules.find((r) => r.import_key === key)!;
        expect(of('koha:overduerules:*:PT:1')).to.include({
          level: 1,
          categorycode: 'PT',
          branchcode: null,
          delay_days: 7,
          template_code: 'ODUE',
          is_used: true,
        });
        expect(of('koha:overduerules:*:PT:1').channels).to.deep.equal(['email', 'sms', 'print']);
        // Koha counts from the due date; a later level counts from the level before it.
        expect(of('koha:overduerules:*:PT:2')).to.include({ level: 2, delay_days: 14 });
        expect(of('koha:overduerules:*:PT:3')).to.include({ level: 3, delay_days: 14 });
        expect(of('koha:overduerules:*:PT:4')).to.include({ level: 4, is_used: false });
        expect(of('koha:overduerules:HAF:PT:1')).to.include({ branchcode: 'HAF', delay_days: 10 });
        expect(of('koha:overduerules:HAF:PT:2')).to.include({ is_used: false });
        // The children's category has no trigger in Koha, so Koha sends them none.
        expect(of('koha:overduerules:*:KI:1')).to.include({ is_used: false });
        expect(of('koha:circulation_rules:*:PT:BK:1')).to.include({ itemtype: 'BK', delay_days: 3 });
        expect(of('koha:circulation_rules:*:PT:BK:1').channels).to.deep.equal(['email', 'sms', 'print']);

        const again = await kmc(['rules', 'import-koha', '--json'], env);
        expect(JSON.parse(again.stdout)).to.include({ created: 0, updated: 0, unchanged: 9 });
        await w.db.knex('overduerules').where({ branchcode: 'HAF' }).update({ delay1: 12 });
        const changed = await importKohaRules({ host: w.kmc.host, rules: w.kmc.rules });
        expect([changed.created, changed.updated, changed.unchanged]).to.deep.equal([0, 1, 8]);
        expect((await w.kmc.rules.get(of('koha:overduerules:HAF:PT:1').id))!.delay_days).to.equal(12);
      } finally {
        await w.db.knex('circulation_rules').delete();
        await w.db.knex('overduerules').delete();
      }
    });

    it('a baseline rule cannot be deleted; an exception can', async () => {
      const baseline = (await w.kmc.rules.forType('overdue', 1)).find((r) => r.is_baseline)!;
      const err = await w.kmc.rules.deleteRule(baseline.id).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.include({ code: 'KMC_BASELINE_RULE' });
      expect(err).to.have.property('message').that.contains('cannot be deleted');
      const cli = await kmc(['rules', 'delete', String(baseline.id)], env);
      expect(cli.code).to.equal(1);
      expect(cli.stderr).to.contain('[KMC_BASELINE_RULE]');
      const narrowed = await w.kmc.rules.update(baseline.id, { categorycode: 'PT' }).catch((e: unknown) => e);
      expect(narrowed).to.have.property('code', 'KMC_BASELINE_RULE');
      const id = await w.kmc.rules.create({ message_type: 'overdue', level: 1, branchcode: 'HAF', delay_days: 3, channels: ['print'] });
      await w.kmc.rules.deleteRule(id);
      expect(await w.kmc.rules.get(id)).to.equal(null);
      expect(await w.kmc.rules.get(baseline.id)).to.not.equal(null);
    });

    it("which branch's rules apply is a setting: issuing branch, the item's home, or the patron's", async () => {
      // Jürgen (a HAF patron) borrowed a CPL book at CPL.
      const b = await w.k.biblio({ title: 'Buddenbrooks', author: 'Mann, Thomas' });
      const issue = await w.k.loan({
        borrowernumber: who.jurgen,
        itemnumber: await w.k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
        dateDue: '2026-11-19',
        branchcode: 'CPL',
      });
      await w.kmc.rules.create({ message_type: 'overdue', level: 1, branchcode: 'HAF', delay_days: 3, channels: ['print'] });
      const covered = async () => (await stored(w.db.knex, { borrowernumber: who.jurgen })).flatMap((m) => m.items.map((i) => i.issue_id));
      for (const [setting, expected] of [
        ['issuing', []],
        ['item_home', []],
        ['patron', [issue]],
      ] as const) {
        await clearMessages(w.db.knex);
        await w.db.knex('kmc_settings').where({ name: 'rules_branch' }).update({ value: setting });
        await run('overdue');
        expect(await covered(), setting).to.deep.equal(expected);
      }
      await w.db.knex('kmc_settings').where({ name: 'rules_branch' }).update({ value: 'everywhere' });
      const err = await run('overdue').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.include({ code: 'KMC_SETTINGS_INVALID' });
      expect(err)
        .to.have.property('message')
        .that.equals('rules_branch: must be one of issuing, item_home, patron (kmc_settings), got "everywhere"');
    });

    it('kmc routines lists the standard routines with their next run, and runs one by name with its criteria', async () => {
      const list = await kmc(['routines', '--json'], env);
      expect(list.code, list.stderr).to.equal(0);
      const routines = JSON.parse(list.stdout).routines as Array<{ name: string; message_type: string; next: string | null }>;
      expect(routines.map((r) => r.message_type).sort()).to.deep.equal([
        'hold_reminder',
        'hold_waiting',
        'overdue',
        'predue',
        'replacement_bill',
        'welcome',
      ]);
      expect(routines.every((r) => r.next && Date.parse(r.next) > Date.now() - 60_000)).to.equal(true);
      const holds = (await w.kmc.routines.byName('Hold pickup notices'))!;
      await w.kmc.routines.update(holds.id, { criteria: { branches: ['HAF'] } });
      try {
        const ran = await kmc(['routines', 'run', 'Hold pickup notices', '--date', RUN_DAY, '--json'], env);
        expect(JSON.parse(ran.stdout)).to.include({ type: 'hold_waiting', created: 2 });
        expect((await stored(w.db.knex)).every((m) => m.branchcode === 'HAF' && m.routine_id === holds.id)).to.equal(true);
      } finally {
        await w.kmc.routines.update(holds.id, { criteria: {} });
      }
      expect(await kmc(['routines', 'run', 'No such routine'], env)).to.include({ code: 2 });
    });

    it('kmc run takes every generated type, and --level', async () => {
      for (const type of ['overdue', 'replacement_bill', 'predue', 'hold_waiting', 'hold_reminder', 'welcome']) {
        const r = await kmc(['run', type, '--date', RUN_DAY, '--json'], env);
        expect(r.code, `${type}: ${r.stderr}`).to.equal(0);
        expect(JSON.parse(r.stdout)).to.include({ type, date: RUN_DAY });
      }
      const level2 = await kmc(['run', 'overdue', '--level', '2', '--date', RUN_DAY, '--json'], env);
      expect(JSON.parse(level2.stdout)).to.include({ created: 0 });
      const email = await kmc(['run', 'email_verification'], env);
      expect(email.code).to.equal(1);
    });
  });
});
