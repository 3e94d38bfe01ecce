/**
 * Reading messages for the staff pages: the archive search, one patron's
 * messages, and the shared bits (patron names, library-day boundaries).
 * Lists never load message bodies; only a message's own page does.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import { MESSAGE_STATUSES, type MessageRow } from '../queue';
import { MESSAGE_TYPES } from '../rules';
import type { StaffReader } from '../host';

export const CHANNELS = ['email', 'sms', 'print'] as const;

/** The columns a list of messages shows. */
export const LIST_COLUMNS = [
  'id',
  'message_type',
  'level',
  'borrowernumber',
  'branchcode',
  'channel',
  'status',
  'status_reason',
  'subject',
  'run_id',
  'created_at',
  'first_sent_at',
  'updated_at',
  'anonymised_at',
] as const;

export type ListedMessage = Pick<MessageRow, Exclude<(typeof LIST_COLUMNS)[number], 'anonymised_at'>> & { anonymised_at: string | null };

export interface ArchiveFilter {
  q: string;
  type: string;
  channel: string;
  status: string;
  from: string;
  to: string;
  page: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function pick(value: unknown, allowed: readonly string[]): string {
  return typeof value === 'string' && allowed.includes(value) ? value : '';
}

/** The search as the query string gives it; anything unknown is dropped rather than refused. */
export function parseArchiveFilter(query: Record<string, unknown>): ArchiveFilter {
  const day = (v: unknown) => (typeof v === 'string' && DAY.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) ? v : '');
  const page = typeof query.page === 'string' && /^\d{1,6}$/.test(query.page) ? Math.max(1, Number(query.page)) : 1;
  return {
    q: typeof query.q === 'string' ? query.q.trim().slice(0, 100) : '',
    type: pick(query.type, MESSAGE_TYPES),
    channel: pick(query.channel, CHANNELS),
    status: pick(query.status, MESSAGE_STATUSES),
    from: day(query.from),
    to: day(query.to),
    page,
  };
}

/** Minutes east of UTC of a time zone at an instant. */
function offsetMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

/** The UTC instant a library day (YYYY-MM-DD) begins, in the library's time zone. */
export function libraryDayStart(day: string, timeZone: string): Date {
  const midnightUtc = Date.parse(`${day}T00:00:00Z`);
  let guess = midnightUtc - offsetMinutes(new Date(midnightUtc), timeZone) * 60_000;
  // Once more, in case the day began on the other side of a clock change.
  guess = midnightUtc - offsetMinutes(new Date(guess), timeZone) * 60_000;
  return new Date(guess);
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

export interface ArchivePage {
  messages: ListedMessage[];
  total: number;
  pages: number;
  /** The name search matched no patron at all. */
  noPatron: boolean;
}

export async function searchArchive(
  deps: { knex: Knex; staff: StaffReader; timezone: string },
  f: ArchiveFilter,
  pageSize: number,
): Promise<ArchivePage> {
  const q = deps.knex('kmc_messages');
  if (f.q) {
    const borrowers = await deps.staff.findPatrons(f.q, 1000);
    if (!borrowers.length) return { messages: [], total: 0, pages: 0, noPatron: true };
    q.whereIn('borrowernumber', borrowers);
  }
  if (f.type) q.where('message_type', f.type);
  if (f.channel) q.where('channel', f.channel);
  if (f.status) q.where('status', f.status);
  if (f.from) q.where('created_at', '>=', toDbTime(libraryDayStart(f.from, deps.timezone)));
  if (f.to) q.where('created_at', '<', toDbTime(libraryDayStart(nextDay(f.to), deps.timezone)));
  const counted = await q.clone().count({ n: '*' }).first<{ n: number | string } | undefined>();
  const total = Number(counted?.n ?? 0);
  // Newest first by creation time (then id): the creation-time index gives this order, so a search by
  // dates reads only its days; ordered by id alone, an old date range walked every newer message first.
  const messages = await q
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(pageSize)
    .offset((f.page - 1) * pageSize)
    .select<ListedMessage[]>(LIST_COLUMNS);
  return { messages, total, pages: Math.ceil(total / pageSize), noPatron: false };
}

export async function patronMessages(knex: Knex, borrowernumber: number, limit = 200): Promise<ListedMessage[]> {
  return knex('kmc_messages')
    .where({ borrowernumber })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit)
    .select<ListedMessage[]>(LIST_COLUMNS);
}

/** Query string for a filter, without the page, for pager links. */
export function filterQuery(f: Partial<ArchiveFilter>, page?: number): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (k !== 'page' && v) params.set(k, String(v));
  if (page && page > 1) params.set('page', String(page));
  const s = params.toString();
  return s ? `?${s}` : '';
}
