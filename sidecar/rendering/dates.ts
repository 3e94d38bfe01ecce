/**
 * Dates and amounts as the library shows them, following Koha's
 * `dateformat` preference (us, metric, iso, dmydot).
 */
export type KohaDateFormat = 'us' | 'metric' | 'iso' | 'dmydot';

export function asKohaDateFormat(value: string | null | undefined): KohaDateFormat {
  return value === 'us' || value === 'metric' || value === 'dmydot' ? value : 'iso';
}

/** Formats the date part of a Koha date or datetime string ('2026-11-24 23:59:00'). */
export function formatKohaDate(value: string | null | undefined, format: KohaDateFormat): string {
  if (!value) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) return value;
  const [, y, mo, d] = m;
  switch (format) {
    case 'us':
      return `${mo}/${d}/${y}`;
    case 'metric':
      return `${d}/${mo}/${y}`;
    case 'dmydot':
      return `${d}.${mo}.${y}`;
    default:
      return `${y}-${mo}-${d}`;
  }
}

export function formatAmount(amount: number, currency: string | null): string {
  const fixed = amount.toFixed(2);
  return currency ? `${fixed} ${currency}` : fixed;
}

/** The library's calendar day (YYYY-MM-DD) at an instant, in its time zone. */
export function libraryDay(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
  return parts;
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
