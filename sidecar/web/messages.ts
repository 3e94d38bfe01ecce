/**
 * The archive search as the staff pages ask for it, and the shared bits
 * (library-day boundaries, pager links).
 * Lists never load message bodies; only a message's own page does.
 */
import { CHANNELS, MESSAGE_STATUSES, MESSAGE_TYPES } from '../kernel';
import type { ListedMessage, MessageStore } from '../queue';
import type { StaffReader } from '../host';

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

/** The archive search: a patron search through Koha first, then the messages by the sidecar's store. */
export async function searchArchive(
  deps: { store: MessageStore; staff: StaffReader; timezone: string },
  f: ArchiveFilter,
  pageSize: number,
): Promise<ArchivePage> {
  let borrowers: number[] | null = null;
  if (f.q) {
    borrowers = await deps.staff.findPatrons(f.q, 1000);
    if (!borrowers.length) return { messages: [], total: 0, pages: 0, noPatron: true };
  }
  const { messages, total } = await deps.store.searchArchive({
    borrowers,
    type: f.type,
    channel: f.channel,
    status: f.status,
    from: f.from ? libraryDayStart(f.from, deps.timezone) : null,
    until: f.to ? libraryDayStart(nextDay(f.to), deps.timezone) : null,
    page: f.page,
    pageSize,
  });
  return { messages, total, pages: Math.ceil(total / pageSize), noPatron: false };
}

/** Query string for a filter, without the page, for pager links. */
export function filterQuery(f: Partial<ArchiveFilter>, page?: number): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (k !== 'page' && v) params.set(k, String(v));
  if (page && page > 1) params.set('page', String(page));
  const s = params.toString();
  return s ? `?${s}` : '';
}
