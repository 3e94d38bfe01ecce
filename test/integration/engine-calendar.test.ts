/**
 * A simulated calendar: the standard daily routines (pre-due reminders,
 * overdue notices, replacement bills) fire every day from day 0 to day 90,
 * as the scheduler fires them, over a small fixed library. Each notice must
 * come on exactly its day, once, and a returned loan must get nothing more.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { addDays } from '../../sidecar/rendering/dates';
import { firesBetween, parseCron, type Routine } from '../../sidecar/scheduling';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { engineWorld, stored, type EngineWorld, type StoredMessage } from './engine-support';

const DAY0 = '2026-11-01';
const day = (n: number) => addDays(DAY0, n);
const TZ = 'Europe/Stockholm';

describe(`a simulated calendar, day 0 to day 90 (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let w: EngineWorld;
  let smtp: MailCapture;
  let all: StoredMessage[];
  const who: Record<string, number> = {};
  const loan: Record<string, number> = {};
  const firedPerDay: number[] = [];

  before(async () => {
    smtp = new MailCapture();
    await smtp.start();
    w = await engineWorld('calendar', { now: `${DAY0}T05:00:00Z`, env: { KMC_SMTP_URL: smtp.url } });
    await w.kmc.startChannels();
    const { k, db, kmc } = w;
    await k.branch({
      code: 'CPL',
      name: 'Centralbiblioteket',
      email: 'central@bibliotek.example.org',
      address1: 'Storgatan 1',
      zip: '111 22',
      city: 'Stockholm',
    });
    await k.category({ code: 'PT', description: 'Vuxen' });
    await k.itemtype({ code: 'BK', description: 'Bok', defaultReplaceCost: 250 });
    await k.systemPreference('dateformat', 'dmydot');
    await k.systemPreference('CurrencyFormat', 'FR');
    await db.knex('kmc_settings').insert({ name: 'currency', value: 'SEK' });

    who.ada = await k.patron({
      surname: 'Lovelace',
      firstname: 'Ada',
      email: 'ada@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
      dateenrolled: '2020-01-01',
    });
    who.bo = await k.patron({
      surname: 'Ek',
      firstname: 'Bo',
      email: 'bo@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
      dateenrolled: '2020-01-01',
    });
    who.cia = await k.patron({
      surname: 'Berg',
      firstname: 'Cia',
      email: 'cia@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'en',
      dateenrolled: '2020-01-01',
    });
    // Ada wants a reminder three days ahead; Cia on the due day itself; Bo none.
    await k.messagePreference({ borrowernumber: who.ada, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 3 });
    await k.messagePreference({ borrowernumber: who.cia, message: 'Item_Due', transports: ['email'] });

    const book = async (title: string, replacementprice?: number) => {
      const b = await k.biblio({ title, author: 'Author, An' });
      return k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK', replacementprice });
    };
    loan.ada = await k.loan({
      borrowernumber: who.ada,
      itemnumber: await book('Analytical Engines', 1299),
      dateDue: day(10),
      branchcode: 'CPL',
    });
    loan.bo = await k.loan({ borrowernumber: who.bo, itemnumber: await book('Boats'), dateDue: day(10), branchcode: 'CPL' });
    loan.cia = await k.loan({ borrowernumber: who.cia, itemnumber: await book('Clouds'), dateDue: day(20), branchcode: 'CPL' });

    // All five levels used, with their own delays; the bill 14 days after level 5, payable in 30.
    const delays: Record<number, number> = { 1: 7, 2: 14, 3: 14, 4: 10, 5: 10 };
    for (const level of [1, 2, 3, 4, 5]) {
      await db
        .knex('kmc_rules')
        .where({ message_type: 'overdue', level, is_baseline: 1 })
        .update({ is_used: 1, delay_days: delays[level], channels: 'email,print' });
    }
    await db
      .knex('kmc_rules')
      .where({ message_type: 'replacement_bill', is_baseline: 1 })
      .update({ delay_days: 14, payment_term_days: 30, fee_per_notice: 50, channels: 'print,email' });

    const routines = (await kmc.routines.list()).filter((r) => ['predue', 'overdue', 'replacement_bill'].includes(r.message_type));
    expect(routines.map((r) => r.message_type).sort()).to.deep.equal(['overdue', 'predue', 'replacement_bill']);

    for (let n = 0; n <= 90; n += 1) {
      // Bo brings his book back on day 40, after his second reminder.
      if (n === 40) await k.returnLoan(loan.bo, day(40));
      // Every fire of the day, in order, as node-schedule would fire them.
      const from = new Date(`${day(n)}T00:00:00+01:00`);
      const fires: Array<[Date, Routine]> = [];
      for (const r of routines)
        for (const t of firesBetween(parseCron(r.schedule!), new Date(from.getTime() - 1), new Date(from.getTime() + 86_399_000), TZ))
          fires.push([t, r]);
      fires.sort((a, b) => a[0].getTime() - b[0].getTime());
      for (const [t, r] of fires) {
        w.clock.set(t.toISOString());
        const result = await kmc.scheduler.fire(r, t);
        expect(result.notRun, `${r.name} on day ${n}`).to.equal(undefined);
      }
      // What the day's runs made goes out that day: each later level counts from the day the one before went out.
      await kmc.worker.deliverOnce();
      firedPerDay.push(fires.length);
    }
    all = await stored(db.knex);
  });

  after(async () => {
    await w.close();
    await smtp.stop();
  });

  const on = (m: StoredMessage) => {
    const n = Math.round((Date.parse(`${m.notice_date}T00:00:00Z`) - Date.parse(`${DAY0}T00:00:00Z`)) / 86_400_000);
    return `day ${n}: ${m.message_type}${m.message_type === 'overdue' ? ` ${m.level}` : ''}`;
  };
  const timeline = (borrower: number) => all.filter((m) => m.borrowernumber === borrower).map(on);

  it('fired each routine at each of its times of the day (pre-due at 06, 12 and 16), and logged every fire once', async () => {
    expect(firedPerDay.every((n) => n === 5)).to.equal(true);
    const runs = await w.db.knex('kmc_runs').select('job', 'fire_time', 'status', 'run_date');
    expect(runs).to.have.length(91 * 5);
    expect(runs.every((r) => r.status === 'finished')).to.equal(true);
    expect(new Set(runs.map((r) => `${r.job}|${r.fire_time}`)).size).to.equal(runs.length);
  });

  it('Ada: a reminder three days before, then levels 1 to 5, then the bill, each on its day', () => {
    expect(timeline(who.ada)).to.deep.equal([
      'day 7: predue',
      'day 17: overdue 1',
      'day 31: overdue 2',
      'day 45: overdue 3',
      'day 55: overdue 4',
      'day 65: overdue 5',
      'day 79: replacement_bill',
    ]);
  });

  it('Bo: two levels, then he returned the book on day 40 and heard nothing more', () => {
    expect(timeline(who.bo)).to.deep.equal(['day 17: overdue 1', 'day 31: overdue 2']);
  });

  it('Cia: a reminder on the due day, then her levels from her own due date', () => {
    expect(timeline(who.cia)).to.deep.equal([
      'day 20: predue',
      'day 27: overdue 1',
      'day 41: overdue 2',
      'day 55: overdue 3',
      'day 65: overdue 4',
      'day 75: overdue 5',
      'day 89: replacement_bill',
    ]);
  });

  it('every notice covers its loan once, under its own coverage key', () => {
    const keys = all.flatMap((m) => m.items.map((i) => i.coverage_key));
    expect(new Set(keys).size).to.equal(keys.length);
    const due = (n: number) => `${day(n).replace(/-/g, '')}T2359`;
    expect(keys)
      .to.include(`overdue:5:issue:${loan.ada}:due:${due(10)}`)
      .and.include(`replacement_bill:0:issue:${loan.ada}`)
      .and.include(`predue:0:issue:${loan.cia}:due:${due(20)}`);
    expect(keys).not.to.include(`overdue:3:issue:${loan.bo}:due:${due(10)}`);
  });

  it("later levels say which reminder they are; dates and amounts follow Koha's settings", () => {
    const ada = all.filter((m) => m.borrowernumber === who.ada);
    expect(ada.find((m) => m.level === 3)!.subject).to.equal('Reminder 3: Overdue: 1 item to return to Centralbiblioteket');
    expect(ada.find((m) => m.level === 1)!.body_text).to.contain(`Due: ${day(10).split('-').reverse().join('.')}`);
    const bill = ada.find((m) => m.message_type === 'replacement_bill')!;
    // Replacement 1 299,00 + a fee of 50 per bill, payable 30 days after day 79.
    expect(bill.channel).to.equal('print');
    expect(bill.fee).to.equal('1349.00');
    expect(bill.body_text).to.contain('Replacement: 1 299,00 SEK').and.contain('Total to pay: 1 349,00 SEK');
    expect(bill.body_text).to.contain(`Please pay by ${addDays(day(79), 30).split('-').reverse().join('.')} (30 days)`);
    const ciaBill = all.find((m) => m.borrowernumber === who.cia && m.message_type === 'replacement_bill')!;
    // Cia's item has no price of its own: the item type's default cost.
    expect(ciaBill.body_text).to.contain('Replacement: 250,00 SEK');
  });
});
