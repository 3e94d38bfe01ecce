/**
 * A run that finds nothing to do says why in words, from its skip counts,
 * and offers nothing to approve.
 */
import { expect } from 'chai';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import type { TestClock } from '../support/sidecar';
import type { Running } from '../../sidecar/serve';
import { runNotices } from '../../sidecar/notices';
import { addStaff, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`a run that finds nothing says why and offers no approval (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let clock: TestClock;
  let staff: StaffSession;

  before(async () => {
    sidecar = await startStaffSidecar('web_run_nothing', {}, { at: '2026-11-24T05:00:00Z' });
    ({ db, lib, running, clock } = sidecar);
    const staffNumber = await addStaff(lib.builder, {
      userid: 'karin',
      surname: 'Lindqvist',
      firstname: 'Karin',
      modules: ['catalogue', 'tools'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(
      running.server,
      running.services.settings.secret,
      staffNumber,
      Math.floor(clock.now().getTime() / 1000),
    );
  });

  after(async () => {
    await sidecar.stop();
  });

  async function runNow(routineId: number): Promise<number> {
    const started = await staff.post(`/routines/${routineId}/run`, {});
    expect(started.status, started.text).to.equal(303);
    const runId = Number(/^\/runs\/(\d+)$/.exec(started.headers.location)![1]);
    for (let i = 0; i < 200; i++) {
      const status = await staff.get(`/runs/${runId}/status`);
      if (status.body.status !== 'running') return runId;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the run did not finish');
  }

  it('the overdue routine run again the same day: "N loans already had this notice", and no Approve', async () => {
    const routine = await db.knex('kmc_routines').where({ message_type: 'overdue' }).first('id');
    await db.knex('kmc_routines').where({ id: routine.id }).update({ needs_approval: 1 });
    // The first run proposes: there is something to approve.
    const first = await runNow(Number(routine.id));
    const proposed = await staff.get(`/runs/${first}`);
    expect(proposed.text).to.contain('value="approve"').and.not.contain('id="why-nothing"');
    await runNotices(running.services.notices, { type: 'overdue', date: '2026-11-24', startedBy: 'test' });

    const again = await runNow(Number(routine.id));
    expect(await db.knex('kmc_messages').where({ run_id: again }).count({ n: '*' })).to.deep.equal([{ n: 0 }]);
    const stats = JSON.parse((await db.knex('kmc_runs').where({ id: again }).first('stats')).stats) as {
      skippedBy: Record<string, number>;
    };
    const already = stats.skippedBy.already_notified;
    expect(already).to.be.greaterThan(1);
    const page = await staff.get(`/runs/${again}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('id="why-nothing"').and.contain(`${already} loans already had this notice`);
    expect(page.text).not.to.contain('value="approve"');
    expect(page.text).not.to.contain('run.why');
  });

  it('in Swedish the same words come from the Swedish catalogue', async () => {
    const runs = await db.knex('kmc_runs').orderBy('id', 'desc').first('id', 'stats');
    const already = (JSON.parse(runs.stats) as { skippedBy: Record<string, number> }).skippedBy.already_notified;
    const swedish = await addStaff(lib.builder, {
      userid: 'astrid',
      surname: 'Berg',
      firstname: 'Astrid',
      modules: ['catalogue', 'tools'],
      branchcode: 'CPL',
      categorycode: 'PT',
      lang: 'sv-SE',
    });
    const sv = await StaffSession.launch(
      running.server,
      running.services.settings.secret,
      swedish,
      Math.floor(clock.now().getTime() / 1000),
    );
    const page = await sv.get(`/runs/${runs.id}`);
    expect(page.text).to.contain(`${already} lån hade redan fått det här meddelandet`);
  });
});
