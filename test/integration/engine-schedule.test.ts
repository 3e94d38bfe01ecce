/**
 * Routines on their schedules: two sidecars on one database firing the same
 * schedule run it once; a fire missed while the sidecar was down is caught
 * up once at start, not again at the next start; node-schedule is armed with
 * each routine's next fire; a routine's criteria and approval apply.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { testServices, testSettings, TestClock } from '../support/sidecar';
import { runNotices, systemClock } from '../../sidecar/notices';
import { nextFire, parseCron, Scheduler, RoutineStore, routineJob, type SchedulerDeps } from '../../sidecar/scheduling';
import type { RunResult } from '../../sidecar/notices';
import { QuietHours, releaseQuietHours } from '../../sidecar/queue';
import { engineWorld, stored, clearMessages, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';
const OVERDUE_FIRE = new Date(`${RUN_DAY}T05:30:00Z`); // 06:30 in Stockholm

/** What a scheduler needs of the sidecar's services: the notice engine, the run log and the quiet-hours release. */
function engineOf(w: EngineWorld): Pick<SchedulerDeps<RunResult>, 'run' | 'runs' | 'releaseQuietHours'> {
  return {
    run: (req) => runNotices(w.kmc.notices, req),
    runs: w.kmc.runs,
    releaseQuietHours: (actor) =>
      releaseQuietHours(
        { store: w.kmc.store, quietHours: () => QuietHours.load(w.kmc.branches, 'Europe/Stockholm'), clock: w.clock, logger: w.kmc.logger },
        actor,
      ),
  };
}

describe(`routines on their schedules (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  const who: Record<string, number> = {};

  const overdueRoutine = async () => (await w.kmc.routines.byName('Overdue notices'))!;

  before(async () => {
    w = await engineWorld('schedule', { now: `${RUN_DAY}T09:00:00Z` });
    const { k } = w;
    await k.branch({ code: 'CPL', name: 'Centralbiblioteket', email: 'central@bibliotek.example.org' });
    await k.branch({ code: 'HAF', name: 'Stadtbibliothek am Hafen', email: 'hafen@example.net' });
    await k.category({ code: 'PT', description: 'Adult' });
    await k.category({ code: 'KI', description: 'Child' });
    await k.itemtype({ code: 'BK', description: 'Book' });
    who.cpl = await k.patron({
      surname: 'Central',
      firstname: 'C',
      email: 'c@example.org',
      branchcode: 'CPL',
      categorycode: 'PT',
      dateenrolled: '2020-01-01',
    });
    who.haf = await k.patron({
      surname: 'Hafen',
      firstname: 'H',
      email: 'h@example.org',
      branchcode: 'HAF',
      categorycode: 'PT',
      dateenrolled: '2020-01-01',
    });
    who.kid = await k.patron({
      surname: 'Kid',
      firstname: 'K',
      email: 'k@example.org',
      branchcode: 'CPL',
      categorycode: 'KI',
      dateenrolled: '2020-01-01',
    });
    for (const [key, branch] of [
      ['cpl', 'CPL'],
      ['haf', 'HAF'],
      ['kid', 'CPL'],
    ] as const) {
      const b = await k.biblio({ title: `Book of ${key}`, author: null });
      await k.loan({
        borrowernumber: who[key],
        itemnumber: await k.item({ biblionumber: b, homebranch: branch, itype: 'BK' }),
        dateDue: '2026-11-10',
        branchcode: branch,
      });
    }
  });

  after(async () => {
    await w.close();
  });

  beforeEach(async () => {
    await clearMessages(w.db.knex);
    await w.db.knex('kmc_branch_settings').delete();
    await w.db.knex('kmc_routines').update({
      enabled: 1,
      needs_approval: 0,
      criteria: '{"branches":[],"categories":[],"itemtypes":[]}',
      created_at: '2026-11-01 00:00:00',
    });
    w.clock.set(`${RUN_DAY}T09:00:00Z`);
  });

  it('two sidecars firing the same schedule: one run, each notice once', async () => {
    const other = testServices(testSettings(w.db.url), new TestClock(w.clock.now()));
    try {
      const routine = await overdueRoutine();
      const [a, b] = await Promise.all([w.kmc.scheduler.fire(routine, OVERDUE_FIRE), other.scheduler.fire(routine, OVERDUE_FIRE)]);
      expect([a.notRun ?? 'ran', b.notRun ?? 'ran'].sort()).to.deep.equal(['already_run', 'ran']);
      expect(a.created + b.created).to.equal(3);
      const runs = await w.db.knex('kmc_runs').select('job', 'fire_time', 'started_by', 'status');
      expect(runs).to.deep.equal([
        { job: routineJob(routine), fire_time: '2026-11-24 05:30:00', started_by: 'scheduler', status: 'finished' },
      ]);
      expect(await w.db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 3 });
      // The same fire later (a clock that went back, a restart) does nothing either.
      expect((await other.scheduler.fire(routine, OVERDUE_FIRE)).notRun).to.equal('already_run');
    } finally {
      await other.close();
    }
  });

  it('a fire missed while the sidecar was down is caught up once at start, not at the next start', async () => {
    // 11:00 in Stockholm: today's 06:30 overdue fire and the 10:00 welcome fire were missed, and every earlier one.
    w.clock.set(`${RUN_DAY}T10:00:00Z`);
    const first = new Scheduler({
      ...engineOf(w),
      routines: w.kmc.routines,
      logger: w.kmc.logger,
      clock: w.clock,
      timezone: 'Europe/Stockholm',
      reloadEveryMs: 0,
    });
    let caughtUp;
    try {
      ({ caughtUp } = await first.start());
    } finally {
      await first.stop();
    }
    const runs = await w.db.knex('kmc_runs').orderBy('job').select('job', 'fire_time', 'run_date');
    const overdue = await overdueRoutine();
    // One run per routine: its last fire only, under that fire's own time.
    expect(runs).to.have.length(6);
    expect(runs.find((r) => r.job === routineJob(overdue))).to.deep.include({ fire_time: '2026-11-24 05:30:00' });
    expect(caughtUp.reduce((n, r) => n + r.created, 0)).to.equal(3);

    const second = new Scheduler({
      ...engineOf(w),
      routines: w.kmc.routines,
      logger: w.kmc.logger,
      clock: w.clock,
      timezone: 'Europe/Stockholm',
      reloadEveryMs: 0,
    });
    try {
      expect((await second.start()).caughtUp).to.deep.equal([]);
    } finally {
      await second.stop();
    }
    expect(await w.db.knex('kmc_runs').count({ n: '*' }).first()).to.deep.equal({ n: 6 });
  });

  it('a fire from before the routine existed, and a disabled routine, are not caught up', async () => {
    await w.db.knex('kmc_routines').update({ created_at: '2026-11-24 08:30:00' });
    await w.db.knex('kmc_routines').where({ name: 'Hold pickup notices' }).update({ enabled: 0 });
    w.clock.set(`${RUN_DAY}T10:00:00Z`);
    const s = new Scheduler({
      ...engineOf(w),
      routines: w.kmc.routines,
      logger: w.kmc.logger,
      clock: w.clock,
      timezone: 'Europe/Stockholm',
      reloadEveryMs: 0,
    });
    try {
      await s.start();
    } finally {
      await s.stop();
    }
    // Only the welcome routine's 10:00 (09:00 UTC) fire came after 08:30 UTC, when the routines were made;
    // the hold notices' 11:00 fire did too, but that routine is disabled.
    expect(await w.db.knex('kmc_runs').pluck('job')).to.deep.equal([routineJob((await w.kmc.routines.byName('Welcome messages'))!)]);
  });

  it("node-schedule is armed with each enabled routine's next fire in the library time zone", async () => {
    await w.db.knex('kmc_routines').where({ name: 'Replacement bills' }).update({ enabled: 0 });
    const routines = new RoutineStore(w.db.knex);
    // A real clock: node-schedule fires by the wall clock. Nothing is due before the test ends.
    const s = new Scheduler({
      ...engineOf(w),
      routines,
      logger: w.kmc.logger,
      clock: systemClock,
      timezone: 'Europe/Stockholm',
      reloadEveryMs: 0,
    });
    await w.db.knex('kmc_routines').update({ created_at: w.db.knex.raw('UTC_TIMESTAMP()') });
    try {
      await s.start();
      const armed = s.scheduled();
      const enabled = (await routines.list({ enabledOnly: true })).filter((r) => r.schedule);
      expect(armed.map((a) => a.name).sort()).to.deep.equal(enabled.map((r) => r.name).sort());
      expect(armed.map((a) => a.name)).not.to.include('Replacement bills');
      const now = new Date();
      for (const a of armed) {
        const r = enabled.find((x) => x.id === a.routineId)!;
        const expected = nextFire(parseCron(r.schedule!), now, 'Europe/Stockholm')!;
        expect(Math.abs(a.next.getTime() - expected.getTime()), r.name).to.be.lessThan(61_000);
        expect(a.nodeScheduleNext?.getTime(), r.name).to.equal(a.next.getTime());
      }
    } finally {
      await s.stop();
    }
    expect(s.scheduled()).to.deep.equal([]);
  });

  it("a routine's criteria choose branches and categories; other branches' rules still pick the level", async () => {
    const routine = await overdueRoutine();
    await w.kmc.routines.update(routine.id, { criteria: { branches: ['CPL'], categories: ['PT'] } });
    const result = await w.kmc.scheduler.fire(await overdueRoutine(), OVERDUE_FIRE);
    expect(result.created).to.equal(1);
    expect(result.skippedBy).to.deep.equal({ outside_routine_criteria: 2 });
    expect((await stored(w.db.knex)).map((m) => m.borrowernumber)).to.deep.equal([who.cpl]);
    expect((await stored(w.db.knex))[0].routine_id).to.equal(routine.id);
  });

  it('a branch excluded from automated runs is skipped by the schedule but not by a run by hand', async () => {
    await w.db.knex('kmc_branch_settings').insert({ branchcode: 'HAF', excluded_from_automated_runs: 1 });
    const scheduled = await w.kmc.scheduler.fire(await overdueRoutine(), OVERDUE_FIRE);
    expect(scheduled.created).to.equal(2);
    expect(scheduled.skippedBy).to.deep.equal({ branch_excluded_from_automated_runs: 1 });
    const byHand = await runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'cli' });
    expect(byHand.created).to.equal(1);
    expect((await stored(w.db.knex)).map((m) => m.borrowernumber).sort()).to.deep.equal([who.cpl, who.haf, who.kid].sort());
  });

  it('a routine that needs approval makes its messages as proposed, with its general text in every message but SMS', async () => {
    const routine = await overdueRoutine();
    await w.kmc.routines.update(routine.id, { needs_approval: true, message_to_patrons: 'The library is closed on 24 December.' });
    const result = await w.kmc.scheduler.fire(await overdueRoutine(), OVERDUE_FIRE);
    expect(result.byStatus).to.deep.equal({ proposed: 3 });
    const messages = await stored(w.db.knex);
    expect(messages.every((m) => m.status_reason === 'waiting for staff approval (routine "Overdue notices")')).to.equal(true);
    expect(messages.every((m) => m.body_text.includes('The library is closed on 24 December.'))).to.equal(true);
    // Proposed messages are not sent.
    expect(await w.kmc.worker.deliverOnce()).to.include({ claimed: 0 });
  });
});
