/**
 * Koha's settings honoured as Koha's own notice jobs honour them, on a real
 * database with Koha's tables filled as Koha fills them, and real SMTP
 * capture servers on loopback:
 * - the closed-day hold of a branch: no e-mail on a day Koha's calendar has
 *   the branch closed (Sundays, a special holiday); it goes the next open day;
 * - `TranslateNotices` off: every patron's notice in the library's default
 *   language (the first of Koha's `language`);
 * - `TimeFormat` beside `dateformat` for an hourly loan's due time;
 * - `NoticeBcc`: a copy in the envelope, never in the header;
 * - the branch a notice speaks for, per message type.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { runNotices } from '../../sidecar/notices';
import { ClosedDays, QuietHours, releaseQuietHours } from '../../sidecar/queue';
import { centralLibrary, engineWorld, stored, type EngineWorld } from './engine-support';

/** 07:00 in Stockholm on a day (winter time), as an instant. */
const morning = (day: string) => `${day}T06:00:00Z`;

describe(`Koha's notice preferences (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let w: EngineWorld;
  let smtp: MailCapture;

  beforeEach(async () => {
    smtp = new MailCapture();
    await smtp.start();
    w = await engineWorld('kohaprefs', { now: morning('2026-11-20'), env: { KMC_SMTP_URL: smtp.url } });
    await w.kmc.startChannels();
    await centralLibrary(w.k);
    await w.k.branch({ code: 'BRO', name: 'Broby bibliotek', email: 'broby@bibliotek.example.org' });
    await w.db
      .knex('kmc_rules')
      .where({ message_type: 'overdue', level: 1, is_baseline: 1 })
      .update({ is_used: 1, delay_days: 7, channels: 'email' });
  });

  afterEach(async () => {
    await w.close();
    await smtp.stop();
  });

  const lend = async (borrowernumber: number, dateDue: string, opts: { branchcode?: string; homebranch?: string; title?: string } = {}) => {
    const record = await w.k.biblio({ title: opts.title ?? 'Hemsöborna', author: 'Strindberg, August', itemtype: 'BK' });
    const item = await w.k.item({ biblionumber: record, homebranch: opts.homebranch ?? 'CPL', itype: 'BK' });
    return w.k.loan({ borrowernumber, itemnumber: item, dateDue, branchcode: opts.branchcode ?? 'CPL' });
  };
  const patron = (surname: string, branchcode = 'CPL', lang = 'en') =>
    w.k.patron({ surname, firstname: surname, email: `${surname.toLowerCase()}@example.org`, branchcode, categorycode: 'PT', lang });
  const overdueOn = async (day: string, at = morning(day)) => {
    w.clock.set(at);
    return runNotices(w.kmc.notices, { type: 'overdue', date: day, startedBy: 'test' });
  };
  const deliverAt = async (at: string) => {
    w.clock.set(at);
    return w.kmc.worker.deliverOnce();
  };
  const received = () => smtp.messages.map((m) => m.envelopeTo.filter((a) => a.endsWith('@example.org')).join(',')).sort();

  describe('the closed-day hold of a branch', () => {
    beforeEach(async () => {
      // Both branches closed on Sundays and on Tuesday 24 November; only CPL holds its overdue notices then.
      for (const branchcode of ['CPL', 'BRO']) {
        await w.k.holiday({ branchcode, weekday: 0, title: 'Söndag' });
        await w.k.holiday({ branchcode, date: '2026-11-24', title: 'Inventering' });
      }
      await w.kmc.branches.saveClosedDayHold('CPL', ['overdue']);
    });

    it('sends nothing on a closed Sunday or special holiday; each goes the next open day', async () => {
      const sunday = await patron('Sundberg');
      const holiday = await patron('Helg');
      const other = await patron('Annan', 'BRO');
      await lend(sunday, '2026-11-15'); // 7 days: Sunday 22 November
      await lend(holiday, '2026-11-17'); // 7 days: the closed Tuesday 24 November
      await lend(other, '2026-11-15', { branchcode: 'BRO', homebranch: 'BRO' }); // BRO: closed too, but it holds nothing

      expect((await overdueOn('2026-11-22')).created).to.equal(2);
      const onSunday = await stored(w.db.knex, { message_type: 'overdue' });
      const of = (b: number) => onSunday.find((m) => m.borrowernumber === b)!;
      expect(of(sunday).status).to.equal('held');
      expect(of(sunday).status_reason).to.match(/^branch closed at CPL on 2026-11-22/);
      expect(of(other).status).to.equal('pending');
      await deliverAt('2026-11-22T12:00:00Z');
      expect(received()).to.deep.equal(['annan@example.org']);
      // Late on Sunday evening it is still Sunday in the library: still held.
      await deliverAt('2026-11-22T22:30:00Z');
      expect(received()).to.deep.equal(['annan@example.org']);

      // Monday, open: Sunday's notice goes.
      await deliverAt('2026-11-23T00:30:00Z');
      expect(received()).to.deep.equal(['annan@example.org', 'sundberg@example.org']);

      expect((await overdueOn('2026-11-24')).created).to.equal(1);
      await deliverAt('2026-11-24T15:00:00Z');
      expect(received()).to.have.length(2);
      const [held] = await stored(w.db.knex, { borrowernumber: holiday });
      expect(held.status).to.equal('held');
      expect(held.status_reason).to.match(/^branch closed at CPL on 2026-11-24/);

      // Wednesday, open: the holiday's notice goes.
      await deliverAt(morning('2026-11-25'));
      expect(received()).to.deep.equal(['annan@example.org', 'helg@example.org', 'sundberg@example.org']);
      const history = await w.db.knex('kmc_message_events').where({ message_id: held.id }).orderBy('id').select('status', 'detail');
      expect(history.map((e: { status: string }) => e.status)).to.deep.equal(['held', 'pending', 'sending', 'sent']);
      expect(history[1]).to.include({ detail: 'the branch is open again' });
    });

    it('an SMS held for the quiet hours of Saturday night waits on for the closed Sunday, and goes on Monday', async () => {
      await w.db
        .knex('kmc_branch_settings')
        .where({ branchcode: 'CPL' })
        .update({ sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '08:00:00' });
      const at = '2026-11-21 22:00:00.000';
      await w.db.knex('kmc_messages').insert({
        idempotency_key: 'closed-day-test:1',
        message_type: 'overdue',
        level: 1,
        borrowernumber: await patron('Natt'),
        branchcode: 'CPL',
        channel: 'sms',
        status: 'held',
        status_reason: 'SMS quiet hours at CPL (21:00 to 08:00): it goes out when they end',
        to_address: '+46701234567',
        subject: '',
        body_text: 'Overdue',
        created_at: at,
        updated_at: at,
      });
      const release = async (instant: string) => {
        w.clock.set(instant);
        await releaseQuietHours(
          {
            store: w.kmc.store,
            quietHours: () => QuietHours.load(w.kmc.branches, 'Europe/Stockholm'),
            closedDays: () => ClosedDays.load(w.kmc.branches, () => w.kmc.host.calendars(), 'Europe/Stockholm'),
            clock: w.clock,
            logger: w.kmc.logger,
          },
          'test',
        );
        return w.db.knex('kmc_messages').where({ idempotency_key: 'closed-day-test:1' }).first('status', 'status_reason');
      };
      // Sunday 09:00 in Stockholm: the quiet hours are over, but the branch is closed.
      expect(await release('2026-11-22T08:00:00Z')).to.deep.include({ status: 'held' });
      expect((await release('2026-11-22T08:00:00Z')).status_reason).to.match(/^branch closed at CPL on 2026-11-22/);
      // Monday 09:00: open, and not quiet.
      expect(await release('2026-11-23T08:00:00Z')).to.deep.include({ status: 'pending', status_reason: null });
    });

    it('is off by default, and off for types not chosen: such notices go on a closed day', async () => {
      await w.kmc.branches.saveClosedDayHold('CPL', ['predue']);
      const sunday = await patron('Sundberg');
      await lend(sunday, '2026-11-15');
      expect((await overdueOn('2026-11-22')).created).to.equal(1);
      await deliverAt('2026-11-22T12:00:00Z');
      expect(received()).to.deep.equal(['sundberg@example.org']);
    });
  });

  describe('TranslateNotices', () => {
    const langOf = async () => {
      const swede = await patron('Svensson', 'CPL', 'sv-SE');
      await lend(swede, '2026-11-10');
      await overdueOn('2026-11-20');
      const [m] = await stored(w.db.knex, { message_type: 'overdue' });
      return m.lang;
    };

    it("off: the library's default language (the first of Koha's language preference), whatever the patron's is", async () => {
      await w.k.systemPreference('TranslateNotices', '0');
      await w.k.systemPreference('language', 'da-DK,en,sv-SE');
      expect(await langOf()).to.equal('da');
    });

    it("on: the patron's own language", async () => {
      await w.k.systemPreference('TranslateNotices', '1');
      await w.k.systemPreference('language', 'da-DK,en,sv-SE');
      expect(await langOf()).to.equal('sv');
    });
  });

  describe('TimeFormat beside dateformat', () => {
    const reminder = async () => {
      const p = await patron('Timme');
      await w.k.messagePreference({ borrowernumber: p, message: 'Item_Due', transports: ['email'] });
      await lend(p, '2026-11-20 15:30:00', { title: 'Timlånet' });
      w.clock.set(morning('2026-11-20'));
      expect((await runNotices(w.kmc.notices, { type: 'predue', date: '2026-11-20', startedBy: 'test' })).created).to.equal(1);
      const [m] = await stored(w.db.knex, { message_type: 'predue' });
      return m.body_text;
    };

    it('12hr with the us date format: the hourly due time as Koha shows it', async () => {
      await w.k.systemPreference('TimeFormat', '12hr');
      await w.k.systemPreference('dateformat', 'us');
      expect(await reminder())
        .to.contain('11/20/2026 03:30 PM')
        .and.not.contain('15:30');
    });

    it('24hr with the dmydot date format', async () => {
      await w.k.systemPreference('TimeFormat', '24hr');
      await w.k.systemPreference('dateformat', 'dmydot');
      expect(await reminder())
        .to.contain('20.11.2026 15:30')
        .and.not.contain('PM');
    });
  });

  describe('NoticeBcc', () => {
    it('each e-mail notice carries a copy to the address: in the envelope, never in the header', async () => {
      await w.k.systemPreference('NoticeBcc', 'notices-archive@bibliotek.example.org');
      await lend(await patron('Kopia'), '2026-11-10');
      expect((await overdueOn('2026-11-20')).created).to.equal(1);
      await deliverAt('2026-11-20T08:00:00Z');
      expect(smtp.messages).to.have.length(1);
      const [mail] = smtp.messages;
      expect(mail.envelopeTo.sort()).to.deep.equal(['kopia@example.org', 'notices-archive@bibliotek.example.org']);
      expect(mail.parsed.headers.has('bcc')).to.equal(false);
      expect(mail.raw).to.not.contain('notices-archive@');
    });

    it('without it, only the patron', async () => {
      await lend(await patron('Ensam'), '2026-11-10');
      await overdueOn('2026-11-20');
      await deliverAt('2026-11-20T08:00:00Z');
      expect(smtp.messages.map((m) => m.envelopeTo)).to.deep.equal([['ensam@example.org']]);
    });
  });

  describe('the branch a notice speaks for', () => {
    it("overdue notices switched to the item's home branch: its sender, its name, its branch on the message", async () => {
      await w.db.knex('kmc_settings').insert({ name: 'notice_branch.overdue', value: 'item_home' });
      const p = await patron('Hemma');
      await lend(p, '2026-11-10', { branchcode: 'CPL', homebranch: 'BRO' });
      await overdueOn('2026-11-20');
      const [m] = await stored(w.db.knex, { message_type: 'overdue' });
      expect(m.branchcode).to.equal('BRO');
      expect(m.from_address).to.equal('Broby bibliotek <broby@bibliotek.example.org>');
      expect(JSON.parse(m.render_data ?? '{}')).to.nested.include({ 'branch.code': 'BRO', 'branch.name': 'Broby bibliotek' });
    });

    it("by default the patron's home branch for loans, and the pickup branch for holds", async () => {
      const p = await patron('Hämtar');
      await lend(p, '2026-11-10', { branchcode: 'CPL', homebranch: 'BRO' });
      await overdueOn('2026-11-20');
      const record = await w.k.biblio({ title: 'Fröken Julie', author: 'Strindberg, August', itemtype: 'BK' });
      const item = await w.k.item({ biblionumber: record, homebranch: 'CPL', itype: 'BK' });
      await w.k.hold({
        borrowernumber: p,
        biblionumber: record,
        itemnumber: item,
        branchcode: 'BRO',
        found: 'W',
        waitingdate: '2026-11-19',
        expirationdate: '2026-11-27',
      });
      await w.db.knex('kmc_rules').where({ message_type: 'hold_waiting', is_baseline: 1 }).update({ is_used: 1, channels: 'email' });
      await runNotices(w.kmc.notices, { type: 'hold_waiting', date: '2026-11-20', startedBy: 'test' });
      const made = await stored(w.db.knex);
      expect(made.map((m) => `${m.message_type}:${m.branchcode}`).sort()).to.deep.equal(['hold_waiting:BRO', 'overdue:CPL']);
    });

    it('a value that is not a choice for the type stops the run, naming the setting', async () => {
      await w.db.knex('kmc_settings').insert({ name: 'notice_branch.overdue', value: 'pickup' });
      await lend(await patron('Fel'), '2026-11-10');
      let error: unknown = null;
      try {
        await overdueOn('2026-11-20');
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.contain('notice_branch.overdue');
    });
  });
});
