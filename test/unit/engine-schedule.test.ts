import { expect } from 'chai';
import { firesBetween, lastFireOfEachDay, nextFire, parseCron, previousFire } from '../../sidecar/scheduling';
import { parseCriteria, validateRoutine } from '../../sidecar/scheduling/routines';
import { isQuietAt, localClock } from '../../sidecar/queue';
import { formatMoney } from '../../sidecar/notices/format';
import { choose } from '../../sidecar/notices/predue';

const TZ = 'Europe/Stockholm';
const at = (iso: string) => new Date(iso);

describe('engine: schedules in the library time zone', () => {
  it('fires at local wall-clock time, winter and summer alike', () => {
    const daily = parseCron('30 6 * * *');
    // Winter: UTC+1, so 06:30 local is 05:30 UTC.
    expect(nextFire(daily, at('2026-11-24T05:00:00Z'), TZ)?.toISOString()).to.equal('2026-11-24T05:30:00.000Z');
    expect(nextFire(daily, at('2026-11-24T05:30:00Z'), TZ)?.toISOString()).to.equal('2026-11-25T05:30:00.000Z');
    // Summer: UTC+2.
    expect(nextFire(daily, at('2026-07-01T00:00:00Z'), TZ)?.toISOString()).to.equal('2026-07-01T04:30:00.000Z');
  });

  it('crosses the change to summer time on the right day', () => {
    // 2026-03-29: clocks go from 02:00 to 03:00 in Stockholm.
    const daily = parseCron('0 6 * * *');
    const fires = firesBetween(daily, at('2026-03-27T12:00:00Z'), at('2026-03-30T12:00:00Z'), TZ).map((d) => d.toISOString());
    expect(fires).to.deep.equal(['2026-03-28T05:00:00.000Z', '2026-03-29T04:00:00.000Z', '2026-03-30T04:00:00.000Z']);
  });

  it('a time the spring-forward day skips runs once that day, at the first minute after the change', () => {
    // 2026-03-29 in Stockholm: 02:00 becomes 03:00, so 02:30 never happens; the routine runs at 03:00 (01:00 UTC).
    const night = parseCron('30 2 * * *');
    const fires = firesBetween(night, at('2026-03-27T12:00:00Z'), at('2026-03-30T12:00:00Z'), TZ).map((d) => d.toISOString());
    expect(fires).to.deep.equal(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(previousFire(night, at('2026-03-29T06:00:00Z'), TZ)?.toISOString()).to.equal('2026-03-29T01:00:00.000Z');
    // A schedule at 02:30 and at 03:00 the same day: one fire at 03:00, not two.
    const twice = firesBetween(parseCron('0,30 2-3 * * *'), at('2026-03-28T23:00:00Z'), at('2026-03-29T03:00:00Z'), TZ);
    expect(twice.map((d) => d.toISOString())).to.deep.equal(['2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z']);
  });

  it('a time the fall-back day repeats runs once that day, at its first occurrence', () => {
    // 2026-10-25 in Stockholm: 03:00 summer time becomes 02:00 winter time, so 02:30 happens twice.
    const night = parseCron('30 2 * * *');
    const fires = firesBetween(night, at('2026-10-23T12:00:00Z'), at('2026-10-26T12:00:00Z'), TZ).map((d) => d.toISOString());
    expect(fires).to.deep.equal(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    expect(nextFire(night, at('2026-10-25T00:30:00Z'), TZ)?.toISOString()).to.equal('2026-10-26T01:30:00.000Z');
    expect(previousFire(night, at('2026-10-25T02:00:00Z'), TZ)?.toISOString()).to.equal('2026-10-25T00:30:00.000Z');
    // A schedule for every hour keeps both 02:00s: an hour is not left without its fire.
    const hourly = firesBetween(parseCron('0 * * * *'), at('2026-10-24T23:30:00Z'), at('2026-10-25T02:30:00Z'), TZ);
    expect(hourly.map((d) => d.toISOString())).to.deep.equal([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
    ]);
  });

  it('names the last fire of each missed library day, across a clock change, also for a schedule every minute', () => {
    const night = lastFireOfEachDay(parseCron('30 2 * * *'), at('2026-03-27T01:30:00Z'), at('2026-03-31T10:00:00Z'), TZ);
    expect(night.map((d) => d.toISOString())).to.deep.equal([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    // Every minute for a month: one fire a day, the day's last minute in library time (the last day: up to the end).
    const busy = lastFireOfEachDay(parseCron('* * * * *'), at('2026-10-01T12:00:00Z'), at('2026-10-31T12:00:00Z'), TZ);
    expect(busy).to.have.length(31);
    expect(busy[24].toISOString()).to.equal('2026-10-25T22:59:00.000Z');
    expect(busy[30].toISOString()).to.equal('2026-10-31T12:00:00.000Z');
  });

  it('knows the last fire before an instant (what a restarted sidecar catches up)', () => {
    const daily = parseCron('30 6 * * *');
    expect(previousFire(daily, at('2026-11-24T10:00:00Z'), TZ)?.toISOString()).to.equal('2026-11-24T05:30:00.000Z');
    expect(previousFire(daily, at('2026-11-24T05:29:59Z'), TZ)?.toISOString()).to.equal('2026-11-23T05:30:00.000Z');
    expect(previousFire(daily, at('2026-11-24T05:30:00Z'), TZ)?.toISOString()).to.equal('2026-11-24T05:30:00.000Z');
  });

  it('reads ranges, lists, steps and weekdays (7 is Sunday too)', () => {
    const hourly = firesBetween(parseCron('0 8-20/6 * * *'), at('2026-11-24T00:00:00Z'), at('2026-11-24T23:00:00Z'), TZ).map((d) =>
      d.toISOString(),
    );
    expect(hourly).to.deep.equal(['2026-11-24T07:00:00.000Z', '2026-11-24T13:00:00.000Z', '2026-11-24T19:00:00.000Z']);
    const weekdays = firesBetween(parseCron('0 7 * * 1-5'), at('2026-11-20T12:00:00Z'), at('2026-11-27T12:00:00Z'), TZ).map((d) =>
      d.toISOString().slice(0, 10),
    );
    expect(weekdays).to.deep.equal(['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27']);
    const sundays = firesBetween(parseCron('0 9 * * 7'), at('2026-11-20T00:00:00Z'), at('2026-12-07T00:00:00Z'), TZ).map((d) =>
      d.toISOString().slice(0, 10),
    );
    expect(sundays).to.deep.equal(['2026-11-22', '2026-11-29', '2026-12-06']);
    // Both day fields restricted: either matches, as in cron.
    const either = firesBetween(parseCron('0 12 1 * 1'), at('2026-11-28T00:00:00Z'), at('2026-12-08T00:00:00Z'), TZ).map((d) =>
      d.toISOString().slice(0, 10),
    );
    expect(either).to.deep.equal(['2026-11-30', '2026-12-01', '2026-12-07']);
  });

  const refused: Array<[string, RegExp]> = [
    ['30 6 * *', /needs five fields/],
    ['61 6 * * *', /minute field "61" is outside 0-59/],
    ['0 6 * JAN *', /month field "JAN" is not a number/],
    ['0 20-8 * * *', /hour field "20-8" is outside/],
    ['*/0 * * * *', /step of 0/],
  ];
  for (const [text, why] of refused) it(`refuses "${text}" with a reason`, () => expect(() => parseCron(text)).to.throw(why));
});

describe('engine: routines are checked before they are stored', () => {
  it('refuses bad criteria, types and levels', () => {
    expect(() => parseCriteria('{"branches":"CEN"}', 'r')).to.throw(/criteria.branches must be a list of Koha codes/);
    expect(() => parseCriteria('{"shelves":[]}', 'r')).to.throw(/unknown criteria shelves/);
    expect(() => parseCriteria('{', 'r')).to.throw(/not valid JSON/);
    expect(parseCriteria('{"branches":["CEN","CEN"]}', 'r')).to.deep.equal({ branches: ['CEN'], categories: [], itemtypes: [] });
    expect(() => {
      validateRoutine({ name: 'x', message_type: 'staff_message' });
    }).to.throw(/not a type a routine can run/);
    expect(() => {
      validateRoutine({ name: 'x', message_type: 'predue', level: 2 });
    }).to.throw(/only overdue routines take a level/);
    expect(() => {
      validateRoutine({ name: 'x', message_type: 'overdue', schedule: 'daily' });
    }).to.throw(/needs five fields/);
    expect(() => {
      validateRoutine({ name: 'Second notices', message_type: 'overdue', level: 2, schedule: '0 7 * * 1-5' });
    }).not.to.throw();
  });
});

describe('engine: SMS quiet hours and amounts', () => {
  it('a window may run over midnight', () => {
    const night = { from: '21:00', to: '08:00' };
    expect(['20:59', '21:00', '23:59', '00:00', '07:59', '08:00', '12:00'].map((t) => isQuietAt(night, t))).to.deep.equal([
      false,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    const lunch = { from: '12:00', to: '13:00' };
    expect(['11:59', '12:00', '12:59', '13:00'].map((t) => isQuietAt(lunch, t))).to.deep.equal([false, true, true, false]);
    expect(isQuietAt({ from: '08:00', to: '08:00' }, '08:00')).to.equal(false);
  });

  it('reads the library clock in its time zone', () => {
    expect(localClock(at('2026-11-24T20:30:00Z'), TZ)).to.equal('21:30');
    expect(localClock(at('2026-07-01T22:05:00Z'), TZ)).to.equal('00:05');
  });

  it("formats amounts as Koha's CurrencyFormat says, with the currency after", () => {
    expect(formatMoney(1234.5, { format: 'US', unit: 'USD' })).to.equal('1,234.50 USD');
    expect(formatMoney(1234.5, { format: 'FR', unit: 'kr' })).to.equal('1 234,50 kr');
    expect(formatMoney(1234567.891, { format: 'CH', unit: 'CHF' })).to.equal("1'234'567.89 CHF");
    expect(formatMoney(250, { format: 'US', unit: '' })).to.equal('250.00');
  });
});

describe('engine: which pre-due reminder a loan gets', () => {
  const advance = { daysInAdvance: 3, wantsDigest: false, transports: ['email'] };
  const due = { daysInAdvance: null, wantsDigest: false, transports: ['sms'] };
  const kind = (r: ReturnType<typeof choose>) => (typeof r === 'string' ? r : r.dueDay ? 'due-day' : r.transports[0]);

  it('a loan lent for the advance days or more is reminded from its advance day on', () => {
    expect([4, 3, 1, 0].map((left) => kind(choose(advance, undefined, 2, left, 28)))).to.deep.equal(['not_yet', 'email', 'email', 'email']);
    expect(kind(choose(advance, undefined, 2, 3, 3))).to.equal('email');
  });

  it('a loan lent for fewer days than the advance days waits for its due day, as Koha never sends that advance notice', () => {
    expect([2, 1, 0].map((left) => kind(choose(advance, undefined, 2, left, 2)))).to.deep.equal(['not_yet', 'not_yet', 'email']);
    // A patron who also asked for the due-day notice gets that one, not two on one day.
    expect(kind(choose(advance, due, 2, 0, 2))).to.equal('due-day');
    // Without Koha's checkout date the window counts as before.
    expect(kind(choose(advance, undefined, 2, 2, null))).to.equal('email');
  });
});
