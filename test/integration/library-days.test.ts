/**
 * Dates and times as a library counts them: installing on a live library
 * does not flood patrons (holds Koha already told, loans far overdue get
 * Koha's level for their age), a routine fires once on both 2026 clock
 * changes and catches up each day it missed once, hourly loans get their
 * due-day reminder from a later run and short loans no earlier than Koha
 * would remind them, and every "day" (the run's date, the print folder, the
 * dashboard) is the library's, not UTC's.
 */
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { runNotices } from '../../sidecar/notices';
import { main, reportError } from '../../sidecar/cli';
import { Scheduler, firesBetween, parseCron, routineJob } from '../../sidecar/scheduling';
import { dashboardFigures } from '../../sidecar/web/pages/dashboard';
import { centralLibrary, engineWorld, stored, type EngineWorld } from './engine-support';

const TZ = 'Europe/Stockholm';
/** 07:00 in Stockholm in winter, as an instant. */
const morning = (day: string) => `${day}T06:00:00Z`;

describe(`library days: first runs, clock changes, hourly loans, the library's day (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(90_000);
  let w: EngineWorld;
  let patron: number;

  const start = async (now: string, env: Record<string, string> = {}) => {
    w = await engineWorld('days', { now, env: { KMC_FIRST_RUN_OVERDUE: 'koha', KMC_FIRST_RUN_HOLDS: 'skip', ...env } });
    await centralLibrary(w.k);
    patron = await w.k.patron({ surname: 'Berg', firstname: 'Ada', email: 'ada@example.org', branchcode: 'CPL', categorycode: 'PT' });
  };
  const book = async (title: string) =>
    w.k.item({ biblionumber: await w.k.biblio({ title, author: 'Ek, Bo' }), homebranch: 'CPL', itype: 'BK' });
  const lend = async (title: string, dateDue: string, issuedate?: string) =>
    w.k.loan({ borrowernumber: patron, itemnumber: await book(title), dateDue, branchcode: 'CPL', ...(issuedate ? { issuedate } : {}) });
  const waiting = async (title: string, waitingdate: string) => {
    const biblionumber = await w.k.biblio({ title, author: 'Ek, Bo' });
    const itemnumber = await w.k.item({ biblionumber, homebranch: 'CPL', itype: 'BK' });
    return w.k.hold({
      borrowernumber: patron,
      biblionumber,
      itemnumber,
      branchcode: 'CPL',
      found: 'W',
      waitingdate,
      expirationdate: '2026-12-20',
    });
  };
  const run = (type: string, day: string, extra: Record<string, unknown> = {}) =>
    runNotices(w.kmc.notices, { type, date: day, startedBy: 'test', ...extra });

  afterEach(async () => {
    await w.close();
  });

  describe('installing on a live library', () => {
    it('holds already waiting before the first run are not notified; later ones are, and staff may ask for the old ones', async () => {
      await start(morning('2026-11-24'));
      const old = await waiting('Told by Koha', '2026-11-20');
      const today = await waiting('Filled today', '2026-11-24');
      const first = await run('hold_waiting', '2026-11-24');
      expect(first.skippedBy).to.include({ waiting_before_first_run: 1 });
      expect((await stored(w.db.knex)).flatMap((m) => m.items.map((i) => i.reserve_id))).to.deep.equal([today]);
      // The next day the old hold is still waiting: still not told again, while a hold filled since is.
      const next = await waiting('Filled later', '2026-11-25');
      w.clock.set(morning('2026-11-25'));
      const second = await run('hold_waiting', '2026-11-25');
      expect(second.created).to.equal(1);
      expect(second.skippedBy).to.include({ waiting_before_first_run: 1 });
      // Staff ask for the holds that were there before (kmc run hold_waiting --include-existing).
      const asked = await run('hold_waiting', '2026-11-25', { includeExisting: true });
      expect(asked.created).to.equal(1);
      const covered = (await stored(w.db.knex)).flatMap((m) => m.items.map((i) => i.reserve_id));
      expect(covered).to.deep.equal([today, next, old]);
    });

    it('kmc run hold_waiting --include-existing tells the holds Koha already told; the flag is for hold_waiting only', async () => {
      await start(morning('2026-11-24'));
      await waiting('Told by Koha', '2026-11-20');
      const out: string[] = [];
      const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
      const env = { KMC_DATABASE_URL: w.db.url, KMC_LOG_LEVEL: 'error', KMC_SMTP_URL: 'smtp://127.0.0.1:1?tls=off' };
      const kmc = (args: string[]) => main(args, env, io).catch((err: unknown) => reportError(err, io));
      expect(await kmc(['run', 'hold_waiting', '--date', '2026-11-24', '--json'])).to.equal(0);
      expect(JSON.parse(out.pop()!)).to.deep.include({ created: 0, skippedBy: { waiting_before_first_run: 1 } });
      expect(await kmc(['run', 'hold_waiting', '--date', '2026-11-24', '--include-existing', '--json'])).to.equal(0);
      expect(JSON.parse(out.pop()!)).to.include({ created: 1 });
      expect(await kmc(['run', 'overdue', '--include-existing'])).to.equal(2);
      expect(out.join('\n')).to.contain('--include-existing is for `kmc run hold_waiting`');
    });

    it('KMC_FIRST_RUN_HOLDS=notify tells every waiting hold on the first run', async () => {
      await start(morning('2026-11-24'), { KMC_FIRST_RUN_HOLDS: 'notify' });
      await waiting('Told by Koha', '2026-11-20');
      expect((await run('hold_waiting', '2026-11-24')).created).to.equal(1);
    });

    it('a loan far overdue at the first run gets the level Koha sends at its age, not level 1; a new one walks the levels', async () => {
      // Levels 1-3 used, delays 7, 14, 14: Koha's cumulative delays 7, 21 and 35 days after the due date.
      await start(morning('2026-11-24'));
      const forty = await lend('Forty days', '2026-10-15');
      const twentyFive = await lend('Twenty-five days', '2026-10-30');
      const ten = await lend('Ten days', '2026-11-14');
      const three = await lend('Three days', '2026-11-21');
      const first = await run('overdue', '2026-11-24');
      expect(first.created).to.equal(3);
      const levelOf = async () =>
        new Map((await stored(w.db.knex, { message_type: 'overdue' })).flatMap((m) => m.items.map((i) => [i.issue_id, m.level])));
      expect([...(await levelOf()).entries()].sort()).to.deep.equal(
        [
          [forty, 3],
          [twentyFive, 2],
          [ten, 1],
        ].sort(),
      );
      // The loan due three days before the first run reaches level 1 in its time, by date: level 1 only, not 2 or 3.
      expect((await run('overdue', '2026-11-28')).created).to.equal(1);
      expect((await levelOf()).get(three)).to.equal(1);
    });

    it('KMC_FIRST_RUN_OVERDUE=all-levels starts every overdue loan at level 1', async () => {
      await start(morning('2026-11-24'), { KMC_FIRST_RUN_OVERDUE: 'all-levels' });
      await lend('Forty days', '2026-10-15');
      await run('overdue', '2026-11-24');
      expect((await stored(w.db.knex, { message_type: 'overdue' })).map((m) => m.level)).to.deep.equal([1]);
    });

    it('a dry run before the first run shows what the first run will do and does not count as the first', async () => {
      await start(morning('2026-11-24'));
      await lend('Forty days', '2026-10-15');
      const dry = await run('overdue', '2026-11-23', { dryRun: true });
      expect(dry.created).to.equal(1);
      expect(await w.kmc.runs.firstRunStart('overdue')).to.equal(null);
    });
  });

  describe('routines across the 2026 clock changes', () => {
    /** A routine of our own at 02:30 each night, made long before. */
    const nightly = async () => {
      const id = await w.kmc.routines.create({ name: 'Night holds', message_type: 'hold_waiting', schedule: '30 2 * * *' });
      await w.db.knex('kmc_routines').where({ id }).update({ created_at: '2026-01-01 00:00:00' });
      await w.db.knex('kmc_routines').whereNot({ id }).update({ enabled: 0 });
      return (await w.kmc.routines.byName('Night holds'))!;
    };
    const scheduler = () =>
      new Scheduler({
        run: (req) => runNotices(w.kmc.notices, req),
        runs: w.kmc.runs,
        releaseQuietHours: () => Promise.resolve(0),
        routines: w.kmc.routines,
        logger: w.kmc.logger,
        clock: w.clock,
        timezone: TZ,
        reloadEveryMs: 0,
      });
    const restartAt = async (iso: string) => {
      w.clock.set(iso);
      const s = scheduler();
      try {
        return (await s.start()).caughtUp;
      } finally {
        await s.stop();
      }
    };
    const fires = async (job: string) =>
      (await w.db.knex('kmc_runs').where({ job }).orderBy('fire_time').select('fire_time', 'run_date')).map(
        (r: { fire_time: string; run_date: string }) => [r.fire_time, r.run_date.slice(0, 10)],
      );

    it('02:30 on the spring-forward day runs once at 03:00, and once on the fall-back day', async () => {
      await start('2026-03-27T12:00:00Z');
      const routine = await nightly();
      const job = routineJob(routine);
      // Running at every minute the scheduler would arm, day by day across both changes.
      for (const [from, to] of [
        ['2026-03-27T12:00:00Z', '2026-03-31T00:00:00Z'],
        ['2026-10-23T12:00:00Z', '2026-10-27T00:00:00Z'],
      ]) {
        w.clock.set(from);
        const s = scheduler();
        for (const fire of firesBetween(parseCron(routine.schedule!), new Date(from), new Date(to), TZ)) {
          w.clock.set(fire.toISOString());
          await s.fire(routine, fire);
        }
      }
      expect(await fires(job)).to.deep.equal([
        ['2026-03-28 01:30:00', '2026-03-28'],
        ['2026-03-29 01:00:00', '2026-03-29'],
        ['2026-03-30 00:30:00', '2026-03-30'],
        ['2026-10-24 00:30:00', '2026-10-24'],
        ['2026-10-25 00:30:00', '2026-10-25'],
        ['2026-10-26 01:30:00', '2026-10-26'],
      ]);
    });

    it('a sidecar down for days catches up each missed day once, under its own date, and not again', async () => {
      await start('2026-03-27T12:00:00Z');
      const routine = await nightly();
      const job = routineJob(routine);
      // It ran on the 27th, then was down until the 31st at noon, across the spring-forward night.
      await scheduler().fire(routine, new Date('2026-03-27T01:30:00Z'));
      const caught = await restartAt('2026-03-31T10:00:00Z');
      expect(caught).to.have.length(4);
      expect(await fires(job)).to.deep.equal([
        ['2026-03-27 01:30:00', '2026-03-27'],
        ['2026-03-28 01:30:00', '2026-03-28'],
        ['2026-03-29 01:00:00', '2026-03-29'],
        ['2026-03-30 00:30:00', '2026-03-30'],
        ['2026-03-31 00:30:00', '2026-03-31'],
      ]);
      expect(await restartAt('2026-03-31T11:00:00Z')).to.deep.equal([]);
      expect(await fires(job)).to.have.length(5);
    });
  });

  describe('hourly and short loans', () => {
    it('a loan due today checked out after the morning run gets its due-day reminder from a later run, once', async () => {
      await start(morning('2026-11-12'));
      await w.k.messagePreference({ borrowernumber: patron, message: 'Item_Due', transports: ['email'] });
      expect((await run('predue', '2026-11-12')).created).to.equal(0);
      // Lent at 10:00 for six hours.
      await lend('Six hours', '2026-11-12 16:00:00', '2026-11-12 10:00:00');
      w.clock.set('2026-11-12T11:00:00Z');
      expect((await run('predue', '2026-11-12')).created).to.equal(1);
      w.clock.set('2026-11-12T13:00:00Z');
      expect((await run('predue', '2026-11-12')).created).to.equal(0);
      const [m] = await stored(w.db.knex, { message_type: 'predue' });
      expect(m.body_text).to.contain('Six hours').and.contain('16:00');
    });

    it('the standard pre-due routine runs again after the morning, so such a loan is reminded the day it is lent', async () => {
      await start(morning('2026-11-12'));
      const routine = await w.db.knex('kmc_routines').where({ name: 'Pre-due reminders', message_type: 'predue' }).first('schedule');
      const fires = firesBetween(
        parseCron(String(routine.schedule)),
        new Date('2026-11-11T23:00:00Z'),
        new Date('2026-11-12T22:59:00Z'),
        'Europe/Stockholm',
      );
      expect(fires.length, String(routine.schedule)).to.be.at.least(3);
      // A loan lent at 10:00 and due at 16:00 the same day: a fire falls between the two.
      expect(fires.some((f) => f > new Date('2026-11-12T09:00:00Z') && f < new Date('2026-11-12T15:00:00Z'))).to.equal(true);
    });

    it('a loan shorter than the advance days is reminded on its due day, not at checkout', async () => {
      await start(morning('2026-11-10'));
      await w.k.messagePreference({ borrowernumber: patron, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 3 });
      // Lent on the 10th for two days: Koha's advance notice (three days before) was due before the loan existed.
      await lend('Two days', '2026-11-12', '2026-11-10 10:00:00');
      // Lent long ago, due the same day: its advance reminder comes three days before as usual.
      await lend('Four weeks', '2026-11-12', '2026-10-15 10:00:00');
      w.clock.set('2026-11-10T11:00:00Z');
      const checkout = await run('predue', '2026-11-10');
      expect(checkout.created).to.equal(1);
      expect((await stored(w.db.knex, { message_type: 'predue' }))[0].body_text)
        .to.contain('Four weeks')
        .and.not.contain('Two days');
      w.clock.set(morning('2026-11-11'));
      expect((await run('predue', '2026-11-11')).created).to.equal(0);
      w.clock.set(morning('2026-11-12'));
      expect((await run('predue', '2026-11-12')).created).to.equal(1);
      const made = await stored(w.db.knex, { message_type: 'predue' });
      expect(made.map((m) => m.notice_date)).to.deep.equal(['2026-11-10', '2026-11-12']);
      expect(made[1].body_text).to.contain('Two days');
    });

    it('a run caught up for a day gone by never reminds of a due time that has passed by now', async () => {
      await start('2026-11-12T14:00:00Z');
      await w.k.messagePreference({ borrowernumber: patron, message: 'Advance_Notice', transports: ['email'], daysInAdvance: 2 });
      await lend('Noon', '2026-11-12 12:00:00', '2026-10-20 12:00:00');
      // The 11th's run, made on the 12th at 15:00 (a catch-up): the loan was due at noon today, already past.
      const late = await run('predue', '2026-11-11');
      expect(late.skippedBy).to.include({ due_time_passed: 1 });
      expect(late.created).to.equal(0);
    });
  });

  describe("the library's day, not UTC's", () => {
    it('at 23:30 UTC in Stockholm it is already tomorrow: the run date, the print folder and the dashboard day say so', async () => {
      // 2026-11-24 23:30 UTC = 2026-11-25 00:30 in Stockholm.
      await start('2026-11-24T23:30:00Z');
      await w.db.knex('borrowers').where({ borrowernumber: patron }).update({ email: null, address: 'Storgatan 2', city: 'Stockholm' });
      await lend('Late night', '2026-10-01');
      const result = await runNotices(w.kmc.notices, { type: 'overdue', startedBy: 'test' });
      expect(result.date).to.equal('2026-11-25');
      expect((await w.db.knex('kmc_runs').where({ id: result.runId }).first('run_date')).run_date.slice(0, 10)).to.equal('2026-11-25');
      const [letter] = await stored(w.db.knex, { message_type: 'overdue' });
      expect([letter.channel, letter.notice_date]).to.deep.equal(['print', '2026-11-25']);
      await w.kmc.startChannels();
      await w.kmc.worker.deliverOnce();
      const printDir = path.resolve(w.kmc.settings.printDir);
      expect(readdirSync(printDir)).to.include('2026-11-25').and.not.include('2026-11-24');
      expect(existsSync(path.join(printDir, '2026-11-25'))).to.equal(true);
      const figures = await dashboardFigures(w.kmc.store, w.clock.now(), TZ);
      expect(figures.days[figures.days.length - 1]).to.deep.include({ day: '2026-11-25', total: 1 });
      expect(figures.days.find((d) => d.day === '2026-11-24')?.total).to.equal(0);
    });
  });
});
