/**
 * The archive search as the staff pages ask for it, and the shared bits
 * (library-day boundaries, pager links).
 * Lists never load message bodies; only a message's own page does.
 */
import { CHANNELS, MESSAGE_STATUSES, MESSAGE_TYPES } from '../kernel';
import type { BoundedCount, KeysetPage, ListedMessage, MessageStore, PageCursor } from '../queue';
import type { StaffReader } from '../host';

export interface ArchiveFilter {
  q: string;
  type: string;
  channel: string;
  status: string;
  from: string;
  to: string;
  /** The page's number as the pager counts it (shown only; the cursor says where the page is). */
  page: number;
  cursor: PageCursor | null;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function pick(value: unknown, allowed: readonly string[]): string {
  return typeof value === 'string' && allowed.includes(value) ? value : '';
}

/** The search as the query string gives it; anything unknown is dropped rather than refused. */
export function parseArchiveFilter(query: Record<string, unknown>): ArchiveFilter {
  const day = (v: unknown) => (typeof v === 'string' && DAY.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) ? v : '');
  return {
    q: typeof query.q === 'string' ? query.q.trim().slice(0, 100) : '',
    type: pick(query.type, MESSAGE_TYPES),
    channel: pick(query.channel, CHANNELS),
    status: pick(query.status, MESSAGE_STATUSES),
    from: day(query.from),
    to: day(query.to),
    ...pageParams(query),
  };
}

/**
 * Where a list's page begins, from the query string: `before=ID` (messages older than that one) or `after=ID`
 * (newer), and the page's number for the pager; without a cursor it is the first page.
 */
export function pageParams(query: Record<string, unknown>): { page: number; cursor: PageCursor | null } {
  const id = (v: unknown) => (typeof v === 'string' && /^\d{1,16}$/.test(v) && Number(v) > 0 ? Number(v) : null);
  const before = id(query.before);
  const after = id(query.after);
  const cursor: PageCursor | null = before ? { direction: 'older', id: before } : after ? { direction: 'newer', id: after } : null;
  const page = cursor && typeof query.page === 'string' && /^\d{1,6}$/.test(query.page) ? Math.max(1, Number(query.page)) : 1;
  return { page, cursor };
}

/** A pager's links and its words: previous and next from the page's first and last message, and the count. */
export interface Pager {
  prevHref: string | null;
  nextHref: string | null;
  page: number;
  /** The number of pages, when the count is exact. */
  pages: number | null;
}

export function pagerOf(
  path: string,
  params: Record<string, string>,
  page: number,
  list: KeysetPage<{ id: number }> & { total: BoundedCount },
  pageSize: number,
): Pager {
  const href = (key: 'before' | 'after', id: number, n: number) => {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
    q.set(key, String(id));
    if (n > 1) q.set('page', String(n));
    return `${path}?${q.toString()}`;
  };
  const first = list.messages.at(0);
  const last = list.messages.at(-1);
  // Back to the newest page is a plain link: the newest page has no cursor.
  const base = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  const prevHref = list.newer && first ? (page <= 2 ? `${path}${base ? `?${base}` : ''}` : href('after', first.id, page - 1)) : null;
  const nextHref = list.older && last ? href('before', last.id, page + 1) : null;
  const pages = list.total.capped ? null : Math.max(1, Math.ceil(list.total.n / pageSize));
  return { prevHref, nextHref, page, pages };
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

export interface ArchivePage extends KeysetPage<ListedMessage> {
  total: BoundedCount;
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
    if (!borrowers.length) return { messages: [], newer: false, older: false, total: { n: 0, capped: false }, noPatron: true };
  }
  const found = await deps.store.searchArchive({
    borrowers,
    type: f.type,
    channel: f.channel,
    status: f.status,
    from: f.from ? libraryDayStart(f.from, deps.timezone) : null,
    until: f.to ? libraryDayStart(nextDay(f.to), deps.timezone) : null,
    cursor: f.cursor,
    pageSize,
  });
  return { ...found, noPatron: false };
}

/** A filter's fields for pager links, without where the page begins. */
export function filterParams(f: Partial<ArchiveFilter>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['q', 'type', 'channel', 'status', 'from', 'to'] as const) if (f[k]) out[k] = f[k];
  return out;
}
