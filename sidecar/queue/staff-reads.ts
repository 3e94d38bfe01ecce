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
  page: number;
  pageSize: number;
}

export interface ArchiveResult {
  messages: ListedMessage[];
  /** How many match, over all pages. */
  total: number;
}

interface CountRow {
  n: number | string;
}

export async function searchArchive(knex: Knex, a: ArchiveQuery): Promise<ArchiveResult> {
  const q = knex<MessageRow>('kmc_messages');
  if (a.borrowers) q.whereIn('borrowernumber', a.borrowers);
  if (a.type) q.where('message_type', a.type);
  if (a.channel) q.where('channel', a.channel);
  if (a.status) q.where('status', a.status);
  if (a.from) q.where('created_at', '>=', toDbTime(a.from));
  if (a.until) q.where('created_at', '<', toDbTime(a.until));
  const counted = await q.clone().count<CountRow[]>({ n: '*' });
  // Newest first by creation time (then id): the creation-time index gives this order, so a search by
  // dates reads only its days; ordered by id alone, an old date range walked every newer message first.
  const messages = await q
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(a.pageSize)
    .offset((a.page - 1) * a.pageSize)
    .select<ListedMessage[]>(LISTED_COLUMNS);
  return { messages, total: Number(counted[0]?.n ?? 0) };
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
