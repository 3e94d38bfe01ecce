/**
 * What a generator does about a record from Koha that is not as it should
 * be. Koha keeps titles, authors, names and addresses as long as anyone
 * typed them (LONGTEXT) and dates as any server mode let in (zero dates,
 * the year 1000, 30 February): a long value is cut to a length a notice can
 * show, with a marker; a record with an impossible date is skipped with its
 * reason on the run. Either way every other patron gets their notice.
 */
import { cutToFit } from '../queue';

/** The longest a notice shows of each value (characters); more is cut with a marker. */
const SHOWN_LENGTH = {
  biblio_title: 500,
  author: 300,
  itemcallnumber: 255,
  surname: 200,
  firstname: 200,
  title: 200,
  address: 200,
  address2: 200,
  city: 200,
  zipcode: 50,
  country: 100,
} as const;

type LongField = keyof typeof SHOWN_LENGTH;
type LongValues = { [K in LongField]?: string | null };
const LONG_FIELDS = Object.entries(SHOWN_LENGTH) as Array<[LongField, number]>;

/** The record with every value longer than a notice shows cut, with the marker; the record itself when none is. */
export function cutLongValues<T extends LongValues>(row: T): T {
  let cut: LongValues | null = null;
  for (const [field, length] of LONG_FIELDS) {
    const value = row[field];
    if (typeof value === 'string' && value.length > length) (cut ??= {})[field] = cutToFit(value, { chars: length });
  }
  return cut ? { ...row, ...cut } : row;
}

/** The earliest year a date from Koha may have: anything before is a placeholder or a typing error. */
export const EARLIEST_YEAR = 1900;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$/;

/**
 * True when a date (YYYY-MM-DD, with a time or not) cannot be a real one:
 * zero ('0000-00-00'), before 1900, not a day of the calendar (30 February),
 * or not a date at all.
 */
export function impossibleDate(value: string): boolean {
  const m = DATE_TIME.exec(value.trim());
  if (!m) return true;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v || 0));
  if (year < EARLIEST_YEAR || month < 1 || month > 12 || day < 1) return true;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return true;
  return hour > 23 || minute > 59 || second > 59;
}

/**
 * The first of these dates (by their column in Koha) that is impossible.
 * An absent date is none, not an impossible one, unless the column is
 * `required` (a loan always has a due date).
 */
export function firstImpossibleDate(
  dates: Record<string, string | null | undefined>,
  required: readonly string[] = [],
): { field: string; value: string } | null {
  for (const [field, value] of Object.entries(dates)) {
    if (value === null || value === undefined) {
      if (required.includes(field)) return { field, value: '' };
    } else if (impossibleDate(value)) return { field, value };
  }
  return null;
}
