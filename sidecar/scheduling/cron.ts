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
const HOUR = 60 * MINUTE;
/** How far to look: a yearly schedule (one day a year) still fits. */
const HORIZON_HOURS = 367 * 24;

/** Could any minute of the UTC hour starting at `hourStart` match? Checked at both ends of the hour. */
function hourMayMatch(s: CronSchedule, hourStart: number, timeZone: string): boolean {
  for (const t of [hourStart, hourStart + 59 * MINUTE]) {
    const w = wallClock(new Date(t), timeZone);
    if (s.hours.has(w.hour) && dayMatches(s, w)) return true;
  }
  return false;
}

/** The first fire strictly after `after`, or null when none comes within a year. */
export function nextFire(s: CronSchedule, after: Date, timeZone: string): Date | null {
  const start = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
  let hour = Math.floor(start / HOUR) * HOUR;
  for (let h = 0; h < HORIZON_HOURS; h += 1, hour += HOUR) {
    if (!hourMayMatch(s, hour, timeZone)) continue;
    for (let t = Math.max(hour, start); t < hour + HOUR; t += MINUTE) if (cronMatches(s, new Date(t), timeZone)) return new Date(t);
  }
  return null;
}

/** The last fire at or before `at`, or null when none was within a year. */
export function previousFire(s: CronSchedule, at: Date, timeZone: string): Date | null {
  const end = Math.floor(at.getTime() / MINUTE) * MINUTE;
  let hour = Math.floor(end / HOUR) * HOUR;
  for (let h = 0; h < HORIZON_HOURS; h += 1, hour -= HOUR) {
    if (!hourMayMatch(s, hour, timeZone)) continue;
    for (let t = Math.min(hour + HOUR - MINUTE, end); t >= hour; t -= MINUTE) if (cronMatches(s, new Date(t), timeZone)) return new Date(t);
  }
  return null;
}

/** Every fire in (from, to], in order: for a simulated calendar, or to show what a schedule means. */
export function firesBetween(s: CronSchedule, from: Date, to: Date, timeZone: string): Date[] {
  const out: Date[] = [];
  for (let t = nextFire(s, from, timeZone); t && t.getTime() <= to.getTime(); t = nextFire(s, t, timeZone)) out.push(t);
  return out;
}
