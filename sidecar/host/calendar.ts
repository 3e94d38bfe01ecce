/**
 * Koha's calendar (Tools › Calendar) as Koha keeps it: closed weekdays and
 * closed days of every year (`repeatable_holidays`), closed dates and the
 * open dates that override a repeating closed day (`special_holidays`, with
 * `isexception` 1 for such an exception). Two small reads of every branch.
 */
import type { Knex } from 'knex';

/** One branch's closed days as Koha keeps them. */
export interface KohaBranchCalendar {
  /** Weekdays closed every week, 0 = Sunday as in Koha. */
  weekdays: Set<number>;
  /** Days closed every year, as 'MM-DD'. */
  yearly: Set<string>;
  /** Single closed dates, 'YYYY-MM-DD'. */
  closedDates: Set<string>;
  /** Dates open although a repeating rule closes them, 'YYYY-MM-DD'. */
  openDates: Set<string>;
}

function isMissingTable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR';
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Every branch's calendar, by branchcode; a branch with no closed days is absent. */
export async function readKohaCalendars(knex: Knex): Promise<Map<string, KohaBranchCalendar>> {
  const out = new Map<string, KohaBranchCalendar>();
  const of = (branchcode: string) => {
    let c = out.get(branchcode);
    if (!c) out.set(branchcode, (c = { weekdays: new Set(), yearly: new Set(), closedDates: new Set(), openDates: new Set() }));
    return c;
  };
  let repeatable: Array<{ branchcode: string; weekday: number | null; day: number | null; month: number | null }>;
  let special: Array<{ branchcode: string; day: number; month: number; year: number; isexception: number }>;
  try {
    repeatable = await knex('repeatable_holidays').select('branchcode', 'weekday', 'day', 'month');
    special = await knex('special_holidays').select('branchcode', 'day', 'month', 'year', 'isexception');
  } catch (err) {
    // A Koha database without the calendar tables has no closed days.
    if (isMissingTable(err)) return out;
    throw err;
  }
  for (const r of repeatable) {
    if (r.weekday !== null && r.weekday >= 0 && r.weekday <= 6) of(r.branchcode).weekdays.add(r.weekday);
    else if (r.day && r.month) of(r.branchcode).yearly.add(`${pad(r.month)}-${pad(r.day)}`);
  }
  for (const s of special) {
    if (!s.year || !s.month || !s.day) continue;
    const date = `${s.year}-${pad(s.month)}-${pad(s.day)}`;
    if (s.isexception) of(s.branchcode).openDates.add(date);
    else of(s.branchcode).closedDates.add(date);
  }
  return out;
}

/** Whether a branch's calendar has it closed on a day (YYYY-MM-DD): closed unless an exception opens it. */
export function isClosedOn(c: KohaBranchCalendar | undefined, day: string): boolean {
  if (!c) return false;
  if (c.openDates.has(day)) return false;
  if (c.weekdays.has(new Date(`${day}T00:00:00Z`).getUTCDay())) return true;
  return c.yearly.has(day.slice(5)) || c.closedDates.has(day);
}
