/** Library days: calendar days (YYYY-MM-DD) in the library's time zone. */

/**
 * Formatters kept by locale, zone and options: making one costs far more than
 * formatting with it, and a run or a delivery asks for the library day or
 * clock of every loan or letter.
 */
const formats = new Map<string, Intl.DateTimeFormat>();

export function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.DateTimeFormat(locale, options)));
  return f;
}

/** The library's calendar day at an instant, in its time zone. */
export function libraryDay(at: Date, timeZone: string): string {
  return dateFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** Adds whole days to a YYYY-MM-DD day, without time-zone surprises. */
export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function daysBetween(fromDay: string, toDay: string): number {
  return Math.round((Date.parse(`${toDay}T00:00:00Z`) - Date.parse(`${fromDay}T00:00:00Z`)) / 86_400_000);
}

const WALL_CLOCK = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' } as const;

/** The library's wall-clock time at an instant (YYYY-MM-DD HH:MM:SS), as Koha stores its times. */
export function libraryTime(at: Date, timeZone: string): string {
  const parts = dateFormat('en-CA', { timeZone, hourCycle: 'h23', ...WALL_CLOCK }).formatToParts(at);
  const v = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${v('year')}-${v('month')}-${v('day')} ${v('hour')}:${v('minute')}:${v('second')}`;
}

/**
 * The moment a run for a library day counts as "now", as library wall-clock
 * time: the present moment for today's run, the end of the day for a day
 * that has passed, its start for a day still to come.
 */
export function runMoment(runDate: string, at: Date, timeZone: string): string {
  const today = libraryDay(at, timeZone);
  if (runDate === today) return libraryTime(at, timeZone);
  return runDate < today ? `${addDays(runDate, 1)} 00:00:00` : `${runDate} 00:00:00`;
}
