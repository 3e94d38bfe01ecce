/**
 * Dates, times and amounts as the library shows them, following Koha's
 * `dateformat` (us, metric, iso, dmydot) and `TimeFormat` (24hr, 12hr)
 * preferences.
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

export type KohaTimeFormat = '24hr' | '12hr';

/** Koha's `TimeFormat`: 12hr only when it says so, else the 24-hour clock (Koha's default). */
export function asKohaTimeFormat(value: string | null | undefined): KohaTimeFormat {
  return value?.trim() === '12hr' ? '12hr' : '24hr';
}

/**
 * Formats the time of a Koha datetime ('2026-11-24 14:30:00') or of a bare
 * 'HH:MM', as Koha shows it: 14:30, or 02:30 PM on the 12-hour clock.
 */
export function formatKohaTime(value: string | null | undefined, format: KohaTimeFormat): string {
  if (!value) return '';
  const m = /(?:^|[ T])(\d{2}):(\d{2})/.exec(value);
  if (!m) return '';
  const [, hh, mm] = m;
  if (format === '24hr') return `${hh}:${mm}`;
  const h = Number(hh);
  const twelve = h % 12 === 0 ? 12 : h % 12;
  return `${String(twelve).padStart(2, '0')}:${mm} ${h < 12 ? 'AM' : 'PM'}`;
}

export function formatAmount(amount: number, currency: string | null): string {
  const fixed = amount.toFixed(2);
  return currency ? `${fixed} ${currency}` : fixed;
}

export { libraryDay, addDays, daysBetween } from '../kernel';
