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

export { libraryDay, addDays, daysBetween } from '../kernel';
