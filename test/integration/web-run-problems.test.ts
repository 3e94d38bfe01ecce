/**
 * What the run pages show when a run met bad data or lost its process: the
 * records skipped, with patron, loan and reason, and a run whose process
 * died as abandoned (in the list and on its page), never as working.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { runNotices } from '../../sidecar/notices';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`the run pages: skipped records and abandoned runs (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let staff: StaffSession;

  before(async () => {
    sidecar = await startStaffSidecar('web_run_problems', {
      karin: { userid: 'karin', surname: 'Lindqvist', modules: ['catalogue', 'tools'], branchcode: 'CPL', categorycode: 'PT' },
    });
    const { running, clock, n } = sidecar;
    staff = await StaffSession.launch(running.server, running.services.settings.secret, n.karin, Math.floor(clock.now().getTime() / 1000));
  });
  after(async () => {
    await sidecar.stop();
  });

  it('lists the records a run skipped for their data, with the patron, the loan and the reason', async () => {
    const { db, lib, running } = sidecar;
    await db.knex.transaction(async (trx) => {
      await trx.raw("SET SESSION sql_mode = ''");
      await trx('issues').where({ issue_id: lib.loans.sorenOld }).update({ date_due: '0000-00-00 00:00:00' });
    });
    const result = await runNotices(running.services.notices, { type: 'overdue', date: '2026-11-24', startedBy: 'test' });
    expect(result.skippedBy.impossible_date).to.equal(1);

    const page = await staff.get(`/runs/${result.runId}`);
    expect(page.status).to.equal(200);
    const section = /<section[^>]*aria-labelledby="skipped-h">([\s\S]*?)<\/section>/.exec(page.text);
    expect(section, 'the run page has a section of skipped records').to.not.equal(null);
    expect(section![1]).to.contain('Records skipped for their data');
    expect(section![1]).to.contain(`<td>${lib.patrons.soren}</td>`);
    expect(section![1]).to.contain(`loan ${lib.loans.sorenOld}`);
    expect(section![1]).to.contain('an impossible date (date_due 0000-00-00 00:00:00)');
  });

  it('shows a run whose lease has passed as abandoned, in the list and on its page', async () => {
    const { db } = sidecar;
    const [id] = await db.knex('kmc_runs').insert({
      job: 'manual:overdue:killed',
      fire_time: '2026-11-24 06:00:00',
      run_date: '2026-11-24',
      message_type: 'overdue',
      status: 'running',
      started_at: '2026-11-24 06:00:00.000',
      started_by: 'cli',
      heartbeat_at: '2026-11-24 06:00:30.000',
      lease_until: '2026-11-24 06:02:30.000',
    });
    const list = await staff.get('/runs');
    expect(list.status).to.equal(200);
    const row = new RegExp(`<a href="/runs/${id}">${id}</a>[\\s\\S]*?</tr>`).exec(list.text);
    expect(row, 'the run is listed').to.not.equal(null);
    expect(row![0]).to.contain('status-abandoned">Abandoned<');

    const page = await staff.get(`/runs/${id}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('status-abandoned">Abandoned<');
    expect(page.text).to.contain('The process doing this run stopped before it finished');
    expect(page.text).to.not.contain('data-run-progress');
  });
});
