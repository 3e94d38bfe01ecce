/**
 * Routine schedules: five-field cron (minute hour day-of-month month
 * day-of-week) read as wall-clock time in the library's time zone. One
 * reading of the schedule serves both the next fire (what node-schedule is
 * given) and the previous one (what a sidecar that was down catches up), so
 * every sidecar sharing a database names the same fire the same way.
 *
 * Supported: `*`, numbers, lists (1,15), ranges (8-20), steps (*\/15,
 * 8-20/2); day-of-week 0-7 (0 and 7 are Sunday); month and day names are
 * not. When both day fields are restricted, either may match, as in cron.
 */
import { KmcError } from '../errors';

export interface CronSchedule {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  readonly anyDay: boolean;
  readonly anyWeekday: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

function bad(source: string, why: string): never {
  throw new KmcError('KMC_BAD_SCHEDULE', `schedule "${source}": ${why}`);
}

function parseField(source: string, text: string, field: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) bad(source, `the ${field.name} field "${text}" is not a number, range, list or step (names are not supported)`);
    // Unmatched groups are undefined at run time, whatever the typings say; a matched one is never empty.
    const step = m[4] ? Number(m[4]) : 1;
    if (step < 1) bad(source, `the ${field.name} field has a step of 0`);
    let from: number = field.min;
    let to: number = field.max;
    if (m[1] !== '*') {
      from = Number(m[2]);
      to = m[3] ? Number(m[3]) : m[4] ? field.max : from;
    }
    if (from < field.min || to > field.max || from > to)
      bad(source, `the ${field.name} field "${part}" is outside ${field.min}-${field.max}`);
    for (let v = from; v <= to; v += step) out.add(field.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(source: string): CronSchedule {
  const text = source.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) bad(text, `needs five fields (minute hour day month weekday), got ${parts.length}`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(text, p, FIELDS[i]));
  return { source: text, minutes, hours, days, months, weekdays, anyDay: parts[2] === '*', anyWeekday: parts[4] === '*' };
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time in a time zone at an instant. */
export function wallClock(at: Date, timeZone: string): Wall {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(at)) p[part.type] = part.value;
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour) % 24,
    minute: Number(p.minute),
    weekday: WEEKDAYS[p.weekday],
  };
}

function dayMatches(s: CronSchedule, w: Wall): boolean {
  if (!s.months.has(w.month)) return false;
  const dom = s.days.has(w.day);
  const dow = s.weekdays.has(w.weekday);
  if (s.anyDay && s.anyWeekday) return true;
  if (s.anyDay) return dow;
  if (s.anyWeekday) return dom;
  return dom || dow;
}

export function cronMatches(s: CronSchedule, at: Date, timeZone: string): boolean {
  const w = wallClock(at, timeZone);
  return s.minutes.has(w.minute) && s.hours.has(w.hour) && dayMatches(s, w);
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** How far to look: a yearly schedule (one day a year) still fits. */
const HORIZON_DAYS = 367;

/** A wall-clock time read as if it were UTC: the arithmetic of days and minutes without a zone. */
function wallMs(at: number, timeZone: string): number {
  const w = wallClock(new Date(at), timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
}

/** Minutes the zone is ahead of UTC at an instant (whole minutes; seconds are dropped). */
function offsetAt(at: number, timeZone: string): number {
  const t = Math.floor(at / MINUTE) * MINUTE;
  return wallMs(t, timeZone) - t;
}

/**
 * The instants of one wall-clock minute (as `wallMs` gives it): none exist
 * in the hour the clocks skip, so that minute stands for the first one after
 * the change (the schedule runs once, as soon as it can); two exist in the
 * hour the clocks repeat, and only the first counts (the schedule runs once),
 * unless `both` (a schedule for every hour keeps its fires in both).
 */
function instantsOf(wall: number, before: number, after: number, timeZone: string, both: boolean): number[] {
  if (before === after) return [wall - before];
  const found = [...new Set([wall - before, wall - after])].filter((t) => wallMs(t, timeZone) === wall).sort((a, b) => a - b);
  if (found.length) return both ? found : [found[0]];
  // Skipped: the change happens between these two readings of the minute; find the first minute after it.
  for (let t = wall - Math.max(before, after); t <= wall - Math.min(before, after); t += MINUTE) {
    if (wallMs(t, timeZone) > wall) return [t];
  }
  return [];
}

/** Every fire on one library day (its date as a UTC midnight), in order. */
function firesOnDay(s: CronSchedule, dayUtc: number, timeZone: string): number[] {
  const d = new Date(dayUtc);
  const w: Wall = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, weekday: d.getUTCDay() };
  if (!dayMatches(s, w)) return [];
  // The zone's offset before the day begins and after it ends: equal on every day without a clock change.
  const before = offsetAt(dayUtc - 14 * 60 * MINUTE, timeZone);
  const after = offsetAt(dayUtc + DAY + 14 * 60 * MINUTE, timeZone);
  const both = s.hours.size === 24;
  const out = new Set<number>();
  for (const hour of [...s.hours].sort((a, b) => a - b)) {
    for (const minute of [...s.minutes].sort((a, b) => a - b)) {
      for (const t of instantsOf(dayUtc + hour * 60 * MINUTE + minute * MINUTE, before, after, timeZone, both)) out.add(t);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** The library day (as a UTC midnight) an instant falls on. */
function dayOf(at: number, timeZone: string): number {
  return Math.floor(wallMs(at, timeZone) / DAY) * DAY;
}

/** The first fire strictly after `after`, or null when none comes within a year. */
export function nextFire(s: CronSchedule, after: Date, timeZone: string): Date | null {
  const from = Math.floor(after.getTime() / MINUTE) * MINUTE;
  // From the day before: a fire in the skipped hour may land on the next instant of that day.
  for (let day = dayOf(from, timeZone) - DAY, n = 0; n <= HORIZON_DAYS; day += DAY, n += 1) {
    const t = firesOnDay(s, day, timeZone).find((f) => f > from);
    if (t !== undefined) return new Date(t);
  }
  return null;
}

/** The last fire at or before `at`, or null when none was within a year. */
export function previousFire(s: CronSchedule, at: Date, timeZone: string): Date | null {
  const end = Math.floor(at.getTime() / MINUTE) * MINUTE;
  for (let day = dayOf(end, timeZone) + DAY, n = 0; n <= HORIZON_DAYS; day -= DAY, n += 1) {
    const t = firesOnDay(s, day, timeZone)
      .filter((f) => f <= end)
      .pop();
    if (t !== undefined) return new Date(t);
  }
  return null;
}

/** The last fire of each library day in (from, to], in order: what a sidecar down for days catches up. */
export function lastFireOfEachDay(s: CronSchedule, from: Date, to: Date, timeZone: string): Date[] {
  const start = Math.floor(from.getTime() / MINUTE) * MINUTE;
  const end = Math.floor(to.getTime() / MINUTE) * MINUTE;
  const out: Date[] = [];
  // From the day before: a fire in the skipped hour may land on the next instant of that day.
  for (let day = dayOf(start, timeZone) - DAY; day <= dayOf(end, timeZone) + DAY; day += DAY) {
    const last = firesOnDay(s, day, timeZone)
      .filter((f) => f > start && f <= end)
      .pop();
    if (last !== undefined) out.push(new Date(last));
  }
  return out;
}

/** Every fire in (from, to], in order: for a simulated calendar, or to show what a schedule means. */
export function firesBetween(s: CronSchedule, from: Date, to: Date, timeZone: string): Date[] {
  const out: Date[] = [];
  for (let t = nextFire(s, from, timeZone); t && t.getTime() <= to.getTime(); t = nextFire(s, t, timeZone)) out.push(t);
  return out;
}
