import { expect } from 'chai';
import { choiceFromForm, choiceOfCron, cronOfChoice, parseCron } from '../../sidecar/scheduling';

describe('schedules picked from choices', () => {
  it('turns each choice into cron the scheduler reads, and reads it back as the same choice', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ schedule_kind: 'none' }, ''],
      [{ schedule_kind: 'daily', schedule_time: '06:30' }, '30 6 * * *'],
      [{ schedule_kind: 'weekdays', schedule_time: '07:05' }, '5 7 * * 1-5'],
      [{ schedule_kind: 'hours', schedule_every: '2', schedule_from: '9', schedule_to: '17' }, '0 9-17/2 * * *'],
      [{ schedule_kind: 'advanced', schedule: '15  8 1 * *' }, '15 8 1 * *'],
    ];
    for (const [form, cron] of cases) {
      const choice = choiceFromForm(form);
      expect(cronOfChoice(choice), JSON.stringify(form)).to.equal(cron);
      if (cron) expect(() => parseCron(cron)).not.to.throw();
      const back = choiceOfCron(cron);
      expect(back.kind).to.equal(form.schedule_kind);
      expect(cronOfChoice(back)).to.equal(cron);
    }
  });

  it('refuses an incomplete choice, and reads any other cron as advanced', () => {
    expect(cronOfChoice(choiceFromForm({ schedule_kind: 'daily', schedule_time: '25:00' }))).to.equal(null);
    expect(cronOfChoice(choiceFromForm({ schedule_kind: 'hours', schedule_every: '2', schedule_from: '17', schedule_to: '9' }))).to.equal(
      null,
    );
    expect(cronOfChoice(choiceFromForm({ schedule_kind: 'hours', schedule_every: '0', schedule_from: '9', schedule_to: '17' }))).to.equal(
      null,
    );
    expect(choiceOfCron('30 6 * * 1')).to.include({ kind: 'advanced', cron: '30 6 * * 1' });
    expect(choiceOfCron(null)).to.include({ kind: 'none' });
  });
});
