/**
 * The staff pages show every date and time as Koha does: its `dateformat`
 * and `TimeFormat`, in the library's time zone.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { RUN_DAY } from '../support/library';
import { runNotices } from '../../sidecar/notices';
import { addStaff, overdueMessageIds, startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

describe(`dates and times on the staff pages follow Koha's dateformat and TimeFormat (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let sidecar: StaffSidecar;
  let staff: StaffSession;
  let asa: number;

  before(async () => {
    sidecar = await startStaffSidecar('web_formats', {}, { at: '2026-11-24T05:00:00Z' });
    const { lib, running, clock } = sidecar;
    // Set before the first page is asked for, as a library that keeps dd/mm/yyyy and the 12-hour clock.
    await lib.builder.systemPreference('dateformat', 'metric');
    await lib.builder.systemPreference('TimeFormat', '12hr');
    await runNotices(running.services.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    asa = (await overdueMessageIds(sidecar)).asa;
    const n = await addStaff(lib.builder, {
      userid: 'desk',
      surname: 'Desk',
      modules: ['catalogue', 'circulate'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    staff = await StaffSession.launch(running.server, running.services.settings.secret, n, Math.floor(clock.now().getTime() / 1000));
  });

  after(async () => {
    await sidecar.stop();
  });

  it('a message made at 06:00 Stockholm time on the 24th shows as 24/11/2026 06:00 AM, not in ISO form', async () => {
    const page = await staff.get(`/archive/${asa}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('24/11/2026 06:00 AM').and.not.contain('2026-11-24 06:00');
    const list = await staff.get('/archive');
    expect(list.text).to.contain('24/11/2026 06:00 AM');
  });
});
