/**
 * What the staff pages read from the message tables: the archive search,
 * one patron's messages, the dashboard's counts and a run's outputs
 * (letters, held items for the pick list, SMS that could not be sent).
 * Reads only; lists never load message bodies, except the letters.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import { libraryDay, type MessageStatus } from '../kernel';
import type { MessageItemRow, MessageRow } from './types';

/** The columns a list of messages shows. */
export const LISTED_COLUMNS = [
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

export type ListedMessage = Pick<MessageRow, Exclude<(typeof LISTED_COLUMNS)[number], 'anonymised_at'>> & { anonymised_at: string | null };

/**
 * Where a page of a newest-first list begins: just older or just newer than
 * a message already shown (its id; its creation time is read by the store).
 * Lists are read from there along an index (keyset paging), so a deep page
 * costs what the first one does; there is no "page N" to jump to.
 */
export interface PageCursor {
  direction: 'older' | 'newer';
  id: number;
}

/** One page of a newest-first list, and whether there is more on either side. */
export interface KeysetPage<T> {
  messages: T[];
  /** Newer messages exist (a "previous" link). */
  newer: boolean;
  /** Older messages exist (a "next" link). */
  older: boolean;
}

/** A cursor with the creation time of its message, as the keyset compares it. */
export interface ResolvedCursor {
  direction: 'older' | 'newer';
  createdAt: string;
  id: number;
}

/** Counts stop here: beyond it a page says "more than" (counting every match of a big search costs a full read). */
export const COUNT_LIMIT = 1000;

/** A count that stops at `COUNT_LIMIT` + 1: `capped` when there are more. */
export interface BoundedCount {
  n: number;
  capped: boolean;
}

/** The creation time of the cursor's message (null when it is gone: the list starts over). */
export async function resolveCursor(knex: Knex, cursor: PageCursor | null): Promise<ResolvedCursor | null> {
  if (!cursor) return null;
  const row = await knex<MessageRow>('kmc_messages').where('id', cursor.id).first<{ created_at: string } | undefined>('created_at');
  return row ? { direction: cursor.direction, createdAt: row.created_at, id: cursor.id } : null;
}

/**
 * Narrows `q` to the messages beyond the cursor and orders it away from it,
 * newest first (or, going back, oldest first: the caller turns the page round).
 * The plain bound on creation time lets the optimiser read a range of the index.
 */
export function keysetOrder(q: Knex.QueryBuilder, cursor: ResolvedCursor | null, prefix = ''): Knex.QueryBuilder {
  const created = `${prefix}created_at`;
  const id = `${prefix}id`;
  const older = !cursor || cursor.direction === 'older';
  if (cursor) {
    const [cmp, bound] = older ? (['<', '<='] as const) : (['>', '>='] as const);
    q.where(created, bound, cursor.createdAt).where(
      (w) =>
        void w
          .where(created, cmp, cursor.createdAt)
          .orWhere((same) => void same.where(created, cursor.createdAt).where(id, cmp, cursor.id)),
    );
  }
  const order = older ? 'desc' : 'asc';
  return q.orderBy([
    { column: created, order },
    { column: id, order },
  ]);
}

/** Turns the rows read (one more than a page) into a page in newest-first order. */
export function keysetPage<T>(rows: T[], cursor: ResolvedCursor | null, pageSize: number): KeysetPage<T> {
  const more = rows.length > pageSize;
  const messages = rows.slice(0, pageSize);
  if (cursor?.direction === 'newer') return { messages: messages.reverse(), newer: more, older: true };
  return { messages, newer: cursor !== null, older: more };
}

/** How many rows `q` matches, reading at most `COUNT_LIMIT` + 1 of them. */
export async function boundedCount(knex: Knex, q: Knex.QueryBuilder): Promise<BoundedCount> {
  const inner = q
    .clone()
    .clearSelect()
    .clearOrder()
    .select(knex.raw('1'))
    .limit(COUNT_LIMIT + 1);
  const [row] = (await knex.from(inner.as('matching')).count<CountRow[]>({ n: '*' })) as Array<CountRow | undefined>;
  const n = Number(row?.n ?? 0);
  return n > COUNT_LIMIT ? { n: COUNT_LIMIT, capped: true } : { n, capped: false };
}

/** An archive search: every field optional (empty = any); times are UTC instants. */
export interface ArchiveQuery {
  /** Only these patrons' messages (a name or card number search), or null for all. */
  borrowers: number[] | null;
  type: string;
  channel: string;
  status: string;
  /** Made at or after this instant. */
  from: Date | null;
  /** Made before this instant. */
  until: Date | null;
  /** Where the page begins; null: the newest. */
  cursor: PageCursor | null;
  pageSize: number;
}

export interface ArchiveResult extends KeysetPage<ListedMessage> {
  /** How many match, over all pages (up to `COUNT_LIMIT`). */
  total: BoundedCount;
}

interface CountRow {
  n: number | string;
}

/** The archive search's messages, unordered and unpaged: the page and its count both start from it. */
export function archiveMatches(knex: Knex, a: Omit<ArchiveQuery, 'cursor' | 'pageSize'>): Knex.QueryBuilder {
  const q = knex<MessageRow>('kmc_messages');
  if (a.borrowers) q.whereIn('borrowernumber', a.borrowers);
  if (a.type) q.where('message_type', a.type);
  if (a.channel) q.where('channel', a.channel);
  if (a.status) q.where('status', a.status);
  if (a.from) q.where('created_at', '>=', toDbTime(a.from));
  if (a.until) q.where('created_at', '<', toDbTime(a.until));
  return q;
}

export async function searchArchive(knex: Knex, a: ArchiveQuery): Promise<ArchiveResult> {
  const cursor = await resolveCursor(knex, a.cursor);
  const matches = archiveMatches(knex, a);
  // Newest first by creation time (then id): each filter has an index by creation time, so a page reads
  // only its own rows from where the last page ended, at any depth.
  const [rows, total] = await Promise.all([
    keysetOrder(matches.clone(), cursor)
      .limit(a.pageSize + 1)
      .select<ListedMessage[]>(LISTED_COLUMNS),
    boundedCount(knex, matches),
  ]);
  return { ...keysetPage(rows, cursor, a.pageSize), total };
}

/** One patron's messages, newest first. */
export function listForPatron(knex: Knex, borrowernumber: number, limit: number): Promise<ListedMessage[]> {
  return knex<MessageRow>('kmc_messages')
    .where({ borrowernumber })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit)
    .select<ListedMessage[]>(LISTED_COLUMNS);
}

/** Messages made on one library day by one channel in one status. */
export interface DayCountRow {
  /** YYYY-MM-DD */
  day: string;
  channel: string;
  status: string;
  n: number;
}

/** Messages made since `since`, counted per library day (in `timeZone`), channel and status. */
export async function countsByDay(knex: Knex, since: Date, timeZone: string): Promise<DayCountRow[]> {
  // By quarter hour of UTC (every time zone's offset is a whole number of quarters), then by the library's day.
  const slot = "CONCAT(DATE_FORMAT(created_at, '%Y-%m-%dT%H:'), LPAD(FLOOR(MINUTE(created_at) / 15) * 15, 2, '0'))";
  const rows = await knex<MessageRow>('kmc_messages')
    .where('created_at', '>=', toDbTime(since))
    .select(knex.raw(`${slot} AS slot`), 'channel', 'status')
    .count<Array<{ slot: string; channel: string; status: string; n: number | string }>>({ n: '*' })
    .groupByRaw(`${slot}, channel, status`);
  const days = new Map<string, string>();
  const out = new Map<string, DayCountRow>();
  for (const r of rows) {
    let day = days.get(r.slot);
    if (day === undefined) days.set(r.slot, (day = libraryDay(new Date(`${r.slot}:00Z`), timeZone)));
    const key = `${day}|${r.channel}|${r.status}`;
    const row = out.get(key);
    if (row) row.n += Number(r.n);
    else out.set(key, { day, channel: r.channel, status: r.status, n: Number(r.n) });
  }
  return [...out.values()];
}

/** The commonest reasons of failure among messages made since `since`, most frequent first. */
export async function failureReasons(knex: Knex, since: Date, limit: number): Promise<Array<{ reason: string; n: number }>> {
  const rows = await knex<MessageRow>('kmc_messages')
    .where({ status: 'failed' })
    .where('created_at', '>=', toDbTime(since))
    .select('status_reason as reason')
    .count<Array<{ reason: string | null; n: number | string }>>({ n: '*' })
    .groupBy('status_reason')
    .orderBy('n', 'desc')
    .limit(limit);
  return rows.map((r) => ({ reason: r.reason ?? '', n: Number(r.n) }));
}

/** How many messages are in each of these statuses (those in none are left out). */
export async function countInStatuses(knex: Knex, statuses: MessageStatus[]): Promise<Map<string, number>> {
  const rows = await knex<MessageRow>('kmc_messages')
    .whereIn('status', statuses)
    .select('status')
    .count<Array<{ status: string; n: number | string }>>({ n: '*' })
    .groupBy('status');
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** A run's message as a letter shows it. */
export type LetterMessage = Pick<
  MessageRow,
  'id' | 'borrowernumber' | 'branchcode' | 'channel' | 'to_address' | 'subject' | 'body_text' | 'created_at' | 'lang' | 'status' | 'run_id'
> & { notice_date: string | null };

const LETTER_COLUMNS = [
  'id',
  'borrowernumber',
  'branchcode',
  'channel',
  'to_address',
  'subject',
  'body_text',
  'created_at',
  'notice_date',
  'lang',
  'status',
  'run_id',
];

/**
 * The messages of a run that become letters: `print` those that go by
 * letter, `all` every message; cancelled and anonymised ones are left out.
 * By branch, then in the order they were made.
 */
export function runLetterMessages(knex: Knex, runId: number, which: 'print' | 'all'): Promise<LetterMessage[]> {
  const q = knex<MessageRow>('kmc_messages')
    .where({ run_id: runId })
    .whereNot('status', 'cancelled')
    .whereNull('anonymised_at')
    .orderBy('branchcode')
    .orderBy('id');
  if (which === 'print') q.where('channel', 'print');
  return q.select<LetterMessage[]>(LETTER_COLUMNS);
}

/** Letters waiting to be printed, of one run or one branch (or all), by branch, then in the order they were made. */
export function lettersToPrint(knex: Knex, where: { runId?: number; branchcode?: string | null }): Promise<LetterMessage[]> {
  const q = knex<MessageRow>('kmc_messages').where({ channel: 'print', status: 'to_print' }).whereNull('anonymised_at');
  if (where.runId !== undefined) q.where('run_id', where.runId);
  if (where.branchcode !== undefined) {
    if (where.branchcode === null) q.whereNull('branchcode');
    else q.where('branchcode', where.branchcode);
  }
  return q.orderBy('branchcode').orderBy('id').select<LetterMessage[]>(LETTER_COLUMNS);
}

/** Letters by id (any status but anonymised), in the order of their ids. */
export function lettersByIds(knex: Knex, ids: number[]): Promise<LetterMessage[]> {
  if (!ids.length) return Promise.resolve([]);
  return knex<MessageRow>('kmc_messages')
    .whereIn('id', ids)
    .where('channel', 'print')
    .whereNull('anonymised_at')
    .orderBy('id')
    .select<LetterMessage[]>(LETTER_COLUMNS);
}

/** How many letters wait to be printed at each branch (`null`: no branch). */
export async function lettersToPrintByBranch(knex: Knex): Promise<Array<{ branchcode: string | null; n: number; oldest: string }>> {
  const rows = await knex('kmc_messages')
    .where({ channel: 'print', status: 'to_print' })
    .whereNull('anonymised_at')
    .groupBy('branchcode')
    .orderBy('branchcode')
    .select<Array<{ branchcode: string | null; n: number | string; oldest: string }>>(
      'branchcode',
      knex.raw('COUNT(*) AS n'),
      knex.raw('MIN(updated_at) AS oldest'),
    );
  return rows.map((r) => ({ branchcode: r.branchcode, n: Number(r.n), oldest: r.oldest }));
}

/** A held item a run's message covers, with its patron. */
export type HeldItemLine = Pick<MessageItemRow, 'message_id' | 'itemnumber' | 'title' | 'author' | 'barcode'> &
  Pick<MessageRow, 'borrowernumber'>;

/** The held items the run's messages (not cancelled) cover. */
export function heldItemsOfRun(knex: Knex, runId: number): Promise<HeldItemLine[]> {
  return knex<MessageItemRow>('kmc_message_items as i')
    .join('kmc_messages as m', 'm.id', 'i.message_id')
    .where('m.run_id', runId)
    .whereNot('m.status', 'cancelled')
    .whereNotNull('i.reserve_id')
    .select<HeldItemLine[]>('i.message_id', 'm.borrowernumber', 'i.itemnumber', 'i.title', 'i.author', 'i.barcode');
}

/** An SMS of a run that could not be sent, with what the SMSC (or the sidecar) said. */
export type SmsErrorLine = Pick<
  MessageRow,
  'id' | 'borrowernumber' | 'status' | 'to_address' | 'status_reason' | 'last_reply' | 'attempts' | 'updated_at'
>;

/**
 * The run's SMS that failed or found no usable number, in the order they were made, with the messages staff chose
 * to send as SMS in the review that then found no number (they keep their first channel, and must not go unseen).
 */
export function smsErrorsOfRun(knex: Knex, runId: number): Promise<SmsErrorLine[]> {
  return knex<MessageRow>('kmc_messages as m')
    .leftJoin('kmc_review_messages as r', 'r.message_id', 'm.id')
    .where('m.run_id', runId)
    .where((w) => {
      void w
        .where((sms) => void sms.where('m.channel', 'sms').whereIn('m.status', ['failed', 'missing_contact']))
        .orWhere((chosen) => void chosen.where('r.send_as', 'sms').where('m.status', 'missing_contact'));
    })
    .orderBy('m.id')
    .select<SmsErrorLine[]>(
      'm.id',
      'm.borrowernumber',
      'm.status',
      'm.to_address',
      'm.status_reason',
      'm.last_reply',
      'm.attempts',
      'm.updated_at',
    );
}
