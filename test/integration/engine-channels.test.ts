/**
 * One channel per notice, and what happens when the first cannot carry it;
 * digest or one message per loan; SMS quiet hours (held, then released and
 * sent over a real SMSC); the e-mail gate in every generator; Koha's toggle.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestSmsc } from '../support/smsc';
import { runNotices } from '../../sidecar/notices';
import { QuietHours, releaseQuietHours } from '../../sidecar/queue';
import { centralLibrary, clearMessages, engineWorld, smsEnv, stored, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';

describe(`channels, fallback, digests, quiet hours and the toggle (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let smsc: TestSmsc;
  const who: Record<string, number> = {};
  const loans: Record<string, number[]> = {};

  const run = (type: string, date = RUN_DAY) => runNotices(w.kmc.notices, { type, date, startedBy: 'test' });
  const baseline = (type: string, level: number, change: Record<string, unknown>) =>
    w.db.knex('kmc_rules').where({ message_type: type, level, is_baseline: 1 }).update(change);

  before(async () => {
    smsc = await TestSmsc.start();
    // Morning in Stockholm (08:00 UTC is 09:00 local): outside any quiet hours set below.
    w = await engineWorld('channels', {
      now: `${RUN_DAY}T08:00:00Z`,
      env: smsEnv(smsc.url),
    });
    const { k } = w;
    await centralLibrary(k);
    const patron = (surname: string, over: Record<string, string | null>) =>
      k.patron({
        surname,
        firstname: 'Test',
        branchcode: 'CPL',
        categorycode: 'PT',
        lang: 'en',
        address: `${surname}vägen 1`,
        city: 'Solna',
        dateenrolled: '2020-01-01',
        ...over,
      });
    who.both = await patron('Both', { email: 'both@example.org', mobile: '070-111 11 11' });
    who.noEmail = await patron('NoEmail', { email: null });
    who.badEmail = await patron('BadEmail', { email: 'bad@@example', mobile: '070-222 22 22' });
    who.badPhone = await patron('BadPhone', { email: null, mobile: '12' });
    who.three = await patron('Three', { email: 'three@example.org' });
    let n = 0;
    const lend = async (borrowernumber: number, dateDue: string) => {
      const b = await k.biblio({ title: `Book ${++n}`, author: 'Writer, A' });
      return k.loan({
        borrowernumber,
        itemnumber: await k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
        dateDue,
        branchcode: 'CPL',
      });
    };
    for (const [key, id] of Object.entries(who)) loans[key] = [await lend(id, '2026-11-10')];
    loans.three.push(await lend(who.three, '2026-11-11'), await lend(who.three, '2026-11-12'));
    await w.kmc.startChannels();
  });

  after(async () => {
    await w.close();
    await smsc.close();
  });

  beforeEach(async () => {
    await clearMessages(w.db.knex);
    await baseline('overdue', 1, { channels: 'email,print', digest: 1, send_all_channels: 0 });
    await w.db.knex('kmc_branch_settings').delete();
    w.kmc.notices.emailGate = undefined;
    w.clock.set(`${RUN_DAY}T08:00:00Z`);
    smsc.reset();
  });

  describe('exactly one channel: the first the patron can receive, else a letter, else missing contact', () => {
    type Expect = [channel: string, status: string, reason?: string];
    const cases: Array<[string, string, Record<string, Expect>]> = [
      [
        'e-mail, else a letter',
        'email,print',
        {
          both: ['email', 'pending'],
          noEmail: ['print', 'pending'],
          badEmail: ['print', 'pending'],
          badPhone: ['print', 'pending'],
        },
      ],
      [
        'SMS, then e-mail, else a letter',
        'sms,email,print',
        {
          both: ['sms', 'pending'],
          noEmail: ['print', 'pending'],
          badEmail: ['sms', 'pending'],
          badPhone: ['print', 'pending'],
        },
      ],
      [
        'e-mail only: letters not allowed',
        'email',
        {
          both: ['email', 'pending'],
          noEmail: ['email', 'missing_contact', 'email: no e-mail address; print: letters not allowed by the rule'],
          badEmail: ['email', 'missing_contact', 'email: e-mail address is not valid; print: letters not allowed by the rule'],
          badPhone: ['email', 'missing_contact', 'email: no e-mail address; print: letters not allowed by the rule'],
        },
      ],
      [
        'SMS, then e-mail, no letters',
        'sms,email',
        {
          both: ['sms', 'pending'],
          noEmail: ['sms', 'missing_contact', 'sms: no mobile number; email: no e-mail address; print: letters not allowed by the rule'],
          badEmail: ['sms', 'pending'],
          badPhone: [
            'sms',
            'missing_contact',
            'sms: mobile number is not valid; email: no e-mail address; print: letters not allowed by the rule',
          ],
        },
      ],
    ];
    for (const [name, channels, expected] of cases) {
      it(name, async () => {
        await baseline('overdue', 1, { channels });
        await run('overdue');
        const byPatron = new Map((await stored(w.db.knex)).map((m) => [m.borrowernumber, m]));
        for (const [key, [channel, status, reason]] of Object.entries(expected)) {
          const m = byPatron.get(who[key])!;
          expect([m.channel, m.status], key).to.deep.equal([channel, status]);
          if (reason) expect(m.status_reason, key).to.equal(reason);
          if (status === 'pending' && channel === 'sms') expect(m.to_address, key).to.match(/^\+467\d{8}$/);
          if (status === 'pending' && channel === 'print') expect(m.to_address, key).to.contain('vägen 1');
        }
        // Never two channels for one notice by accident.
        const messages = await stored(w.db.knex);
        expect(messages.filter((m) => m.borrowernumber === who.both)).to.have.length(1);
      });
    }

    it('a branch that may not send SMS passes SMS over, saying why when nothing else is left', async () => {
      await w.db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 0 });
      await baseline('overdue', 1, { channels: 'sms,email' });
      await run('overdue');
      const byPatron = new Map((await stored(w.db.knex)).map((m) => [m.borrowernumber, m]));
      expect(byPatron.get(who.both)).to.include({ channel: 'email', status: 'pending' });
      expect(byPatron.get(who.badPhone)!.status_reason).to.equal(
        'sms: not set up; email: no e-mail address; print: letters not allowed by the rule',
      );
    });

    it('"all of these channels" only where the rule says so: one message per usable channel, each loan covered once per channel', async () => {
      await baseline('overdue', 1, { channels: 'email,sms', send_all_channels: 1 });
      await run('overdue');
      const both = (await stored(w.db.knex, { borrowernumber: who.both })).map((m) => [m.channel, m.items[0].coverage_key]);
      expect(both).to.deep.equal([
        ['email', `overdue:1:issue:${loans.both[0]}:due:20261110T2359`],
        ['sms', `overdue:1:issue:${loans.both[0]}:due:20261110T2359:sms`],
      ]);
      // Running again makes nothing: every key is taken.
      expect((await run('overdue')).created).to.equal(0);
    });
  });

  describe('digest or one message per loan', () => {
    it("a digest rule puts a patron's loans in one message; a per-loan rule makes one each", async () => {
      await run('overdue');
      const digest = await stored(w.db.knex, { borrowernumber: who.three });
      expect(digest).to.have.length(1);
      expect(digest[0].items.map((i) => i.issue_id)).to.deep.equal(loans.three);
      expect(digest[0].subject).to.equal('Overdue: 3 items to return to Centralbiblioteket');

      await clearMessages(w.db.knex);
      await baseline('overdue', 1, { digest: 0, fee_per_notice: 10, fee_per_item: 5 });
      await run('overdue');
      const single = await stored(w.db.knex, { borrowernumber: who.three });
      expect(single.map((m) => m.items.map((i) => i.issue_id))).to.deep.equal(loans.three.map((id) => [id]));
      expect(single.map((m) => m.fee)).to.deep.equal(['15.00', '15.00', '15.00']);
      expect(single[0].subject).to.equal('Overdue: 1 item to return to Centralbiblioteket');
    });

    it("for pre-due reminders the patron's wants_digest decides", async () => {
      const k = w.k;
      const due = '2026-11-26';
      const b1 = await k.biblio({ title: 'Soon A', author: null });
      const b2 = await k.biblio({ title: 'Soon B', author: null });
      const digester = await k.patron({
        surname: 'Digest',
        firstname: 'D',
        email: 'd@example.org',
        branchcode: 'CPL',
        categorycode: 'PT',
        dateenrolled: '2020-01-01',
      });
      const single = await k.patron({
        surname: 'Single',
        firstname: 'S',
        email: 's@example.org',
        branchcode: 'CPL',
        categorycode: 'PT',
        dateenrolled: '2020-01-01',
      });
      await k.messagePreference({
        borrowernumber: digester,
        message: 'Advance_Notice',
        transports: ['email'],
        daysInAdvance: 2,
        wantsDigest: true,
      });
      await k.messagePreference({
        borrowernumber: single,
        message: 'Advance_Notice',
        transports: ['email'],
        daysInAdvance: 2,
        wantsDigest: false,
      });
      for (const p of [digester, single]) {
        await k.loan({
          borrowernumber: p,
          itemnumber: await k.item({ biblionumber: b1, homebranch: 'CPL', itype: 'BK' }),
          dateDue: due,
          branchcode: 'CPL',
        });
        await k.loan({
          borrowernumber: p,
          itemnumber: await k.item({ biblionumber: b2, homebranch: 'CPL', itype: 'BK' }),
          dateDue: due,
          branchcode: 'CPL',
        });
      }
      const result = await run('predue');
      expect(result.created).to.equal(3);
      expect((await stored(w.db.knex, { borrowernumber: digester })).map((m) => m.items.length)).to.deep.equal([2]);
      expect((await stored(w.db.knex, { borrowernumber: single })).map((m) => m.items.length)).to.deep.equal([1, 1]);
      // The others asked for nothing.
      expect(result.skippedBy.patron_did_not_ask).to.be.undefined;
    });
  });

  describe('SMS quiet hours', () => {
    it('an SMS made during quiet hours is held, e-mail is not; the SMS goes out when they end', async () => {
      await w.db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '08:00:00' });
      await baseline('overdue', 1, { channels: 'sms,email,print' });
      // 22:30 in Stockholm.
      w.clock.set(`${RUN_DAY}T21:30:00Z`);
      await run('overdue');
      const both = (await stored(w.db.knex, { borrowernumber: who.both }))[0];
      expect(both).to.include({ channel: 'sms', status: 'held' });
      expect(both.status_reason).to.equal('SMS quiet hours at CPL (21:00 to 08:00): it goes out when they end');
      expect((await stored(w.db.knex, { borrowernumber: who.three }))[0]).to.include({ channel: 'email', status: 'pending' });

      // Still night: the release leaves it, and the worker does not send it.
      w.clock.set(`${RUN_DAY}T23:59:00Z`);
      const quietHours = () => QuietHours.load(w.kmc.branches, 'Europe/Stockholm');
      expect(await releaseQuietHours({ store: w.kmc.store, quietHours, clock: w.clock, logger: w.kmc.logger })).to.equal(0);
      await w.kmc.worker.deliverOnce();
      expect(smsc.messages).to.have.length(0);
      expect((await w.kmc.store.get(both.id))!.status).to.equal('held');

      // 08:01 the next morning: the worker releases it before its batch and sends it.
      w.clock.set('2026-11-25T07:01:00Z');
      const stats = await w.kmc.worker.deliverOnce();
      expect(stats.sent).to.be.greaterThan(0);
      const sent = smsc.messages.filter((m) => m.to.endsWith('701111111'));
      expect(sent).to.have.length(1);
      expect(sent[0].text).to.contain('Centralbiblioteket').and.contain('overdue');
      const events = (await w.kmc.store.events(both.id)).map((e) => [e.status, e.detail]);
      expect(events.slice(0, 2)).to.deep.equal([
        ['held', both.status_reason],
        ['pending', 'SMS quiet hours are over'],
      ]);
      expect((await w.kmc.store.get(both.id))!.status).to.equal('sent');
    });

    it("the scheduler's minute-by-minute release moves held SMS of branches whose quiet hours ended", async () => {
      await w.db.knex('kmc_branch_settings').insert({ branchcode: 'CPL', sms_enabled: 1, quiet_from: '12:00:00', quiet_to: '13:00:00' });
      await baseline('overdue', 1, { channels: 'sms,print' });
      w.clock.set(`${RUN_DAY}T11:30:00Z`); // 12:30 local
      const result = await run('overdue');
      expect(result.byStatus.held).to.equal(2);
      w.clock.set(`${RUN_DAY}T12:00:00Z`); // 13:00 local
      expect(await w.kmc.scheduler.releaseQuietHours()).to.equal(2);
      expect((await stored(w.db.knex, { channel: 'sms' })).map((m) => m.status)).to.deep.equal(['pending', 'pending']);
    });
  });

  describe('the e-mail gate, in every generator', () => {
    it('holds e-mail to an address waiting for verification and passes an expired one over', async () => {
      const k = w.k;
      const holder = await k.patron({
        surname: 'Holder',
        firstname: 'H',
        email: 'h@example.org',
        branchcode: 'CPL',
        categorycode: 'PT',
        dateenrolled: RUN_DAY,
      });
      const expired = await k.patron({
        surname: 'Expired',
        firstname: 'E',
        email: 'e@example.org',
        branchcode: 'CPL',
        categorycode: 'PT',
        address: 'Gatan 2',
        dateenrolled: RUN_DAY,
      });
      const bib = await k.biblio({ title: 'Waiting', author: null });
      for (const p of [holder, expired]) {
        await k.hold({
          borrowernumber: p,
          biblionumber: bib,
          branchcode: 'CPL',
          itemnumber: await k.item({ biblionumber: bib, homebranch: 'CPL', itype: 'BK' }),
          found: 'W',
          waitingdate: RUN_DAY,
          expirationdate: '2026-11-26',
        });
        await k.loan({
          borrowernumber: p,
          itemnumber: await k.item({ biblionumber: bib, homebranch: 'CPL', itype: 'BK' }),
          dateDue: '2026-11-26',
          branchcode: 'CPL',
        });
        await k.messagePreference({ borrowernumber: p, message: 'Item_Due', transports: ['email'] });
      }
      w.kmc.notices.emailGate = {
        check(patrons) {
          const out = new Map<number, 'held' | 'expired'>();
          for (const p of patrons) if (p.borrowernumber === holder) out.set(p.borrowernumber, 'held');
          for (const p of patrons) if (p.borrowernumber === expired) out.set(p.borrowernumber, 'expired');
          return Promise.resolve(out);
        },
      };
      await baseline('predue', 0, { channels: 'email,print' });
      await baseline('hold_reminder', 0, { channels: 'email,print' });
      await w.db.knex('kmc_messages').delete();
      for (const type of ['hold_waiting', 'hold_reminder', 'welcome', 'predue'])
        await run(type, type === 'predue' ? '2026-11-26' : RUN_DAY);
      const of = async (borrowernumber: number) =>
        (await stored(w.db.knex, { borrowernumber })).map((m) => `${m.message_type} ${m.channel} ${m.status}`).sort();
      expect(await of(holder)).to.deep.equal([
        'hold_reminder email held',
        'hold_waiting email held',
        'predue email held',
        'welcome email held',
      ]);
      expect(await of(expired)).to.deep.equal([
        'hold_reminder print pending',
        'hold_waiting print pending',
        'predue print pending',
        'welcome print pending',
      ]);
    });
  });

  describe("Koha's toggle", () => {
    it("switched off: no type generates anything, the scheduler's fires do nothing, nothing is sent", async () => {
      await w.k.pluginData(w.kmc.settings.pluginClass, '__ENABLED__', '0');
      try {
        for (const type of ['overdue', 'replacement_bill', 'predue', 'hold_waiting', 'hold_reminder', 'welcome']) {
          const r = await run(type);
          expect(r, type).to.include({ notRun: 'disabled', created: 0 });
        }
        const routine = (await w.kmc.routines.list())[0];
        expect((await w.kmc.scheduler.fire(routine, new Date(`${RUN_DAY}T07:00:00Z`))).notRun).to.equal('disabled');
        expect(await w.db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
        expect(await w.db.knex('kmc_runs').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
      } finally {
        await w.k.pluginData(w.kmc.settings.pluginClass, '__ENABLED__', '1');
      }
      await baseline('overdue', 1, { channels: 'sms,print' });
      await run('overdue');
      await w.k.pluginData(w.kmc.settings.pluginClass, '__ENABLED__', '0');
      try {
        expect(await w.kmc.worker.deliverOnce()).to.include({ disabled: true, sent: 0 });
        expect(smsc.messages).to.have.length(0);
      } finally {
        await w.k.pluginData(w.kmc.settings.pluginClass, '__ENABLED__', '1');
      }
    });
  });
});
