/**
 * Writing new messages in bulk. A notice run stores tens of thousands of
 * messages, each with its text, HTML and template data: built as SQL text
 * (escaped string by string) that costs more than everything else the run
 * does, and the server then parses it all again. Here the rows go as
 * prepared multi-row INSERTs on the driver's own connection: values travel
 * in the binary protocol, nothing is escaped or parsed.
 *
 * A prepared statement is kept per connection and per text, so the number of
 * rows per statement comes from a few fixed sizes (whole statements of the
 * largest size, the rest in halving sizes): a connection prepares at most a
 * handful of shapes per table, whatever the batch sizes.
 */
import type { Knex } from 'knex';

type Value = string | number | null;
type Row = Value[];

/** The part of the mysql2 connection (callback style, as knex holds it) used here. */
interface DriverConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
  execute(sql: string, values: Value[], cb: (err: Error | null, result: unknown) => void): void;
}

interface KnexPool {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(conn: DriverConnection): unknown;
}

interface OkPacket {
  insertId: number;
  affectedRows: number;
}

export const MESSAGE_COLUMNS = [
  'idempotency_key',
  'message_type',
  'level',
  'borrowernumber',
  'branchcode',
  'channel',
  'status',
  'status_reason',
  'to_address',
  'from_address',
  'reply_to',
  'lang',
  'subject',
  'body_text',
  'body_html',
  'fee',
  'run_id',
  'rule_id',
  'render_data',
  'notice_date',
  'routine_id',
  'attempts',
  'next_attempt_at',
  'created_at',
  'updated_at',
] as const;

export const ITEM_COLUMNS = [
  'message_id',
  'coverage_key',
  'issue_id',
  'reserve_id',
  'itemnumber',
  'biblionumber',
  'barcode',
  'title',
  'author',
  'date_due',
  'fee',
] as const;

export const EVENT_COLUMNS = ['message_id', 'at', 'status', 'detail', 'actor'] as const;

/** What marks a value cut to fit: the reader sees that something follows. */
export const CUT_MARKER = '…';

/**
 * How much a column holds: VARCHAR(n) counts characters, TEXT types count
 * bytes (utf8mb4: one to four a character).
 */
export interface ColumnSize {
  chars?: number;
  bytes?: number;
}

const TEXT_BYTES = 65_535;
const MEDIUMTEXT_BYTES = 16_777_215;

/**
 * The sizes of the text columns a new message and its items are stored in
 * (sql/001_foundation.sql). Values from Koha can be far longer (biblio.title
 * and borrowers.address are LONGTEXT): they are cut to these, never refused.
 */
export const COLUMN_SIZES = {
  status_reason: { chars: 255 },
  address: { chars: 320 },
  lang: { chars: 25 },
  subject: { chars: 255 },
  body: { bytes: MEDIUMTEXT_BYTES },
  barcode: { chars: 20 },
  title: { bytes: TEXT_BYTES },
  author: { bytes: TEXT_BYTES },
  detail: { bytes: TEXT_BYTES },
  actor: { chars: 64 },
} as const satisfies Record<string, ColumnSize>;

/**
 * A value cut, when it is longer than a column holds, to what fits with the
 * marker at its end. Cuts between characters (never inside one), so the
 * stored text stays valid UTF-8.
 */
export function cutToFit(value: string, size: ColumnSize, marker = CUT_MARKER): string {
  const maxChars = size.chars ?? Infinity;
  const maxBytes = size.bytes ?? Infinity;
  // Most values are short: a UTF-16 length within both limits cannot exceed either.
  if (value.length <= maxChars && value.length * 3 <= maxBytes) return value;
  const chars = Array.from(value);
  if (chars.length <= maxChars && Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  const room = { chars: maxChars - Array.from(marker).length, bytes: maxBytes - Buffer.byteLength(marker, 'utf8') };
  let bytes = 0;
  let n = 0;
  for (; n < chars.length && n < room.chars; n += 1) {
    const b = Buffer.byteLength(chars[n], 'utf8');
    if (bytes + b > room.bytes) break;
    bytes += b;
  }
  return chars.slice(0, Math.max(0, n)).join('') + marker;
}

/** cutToFit for values that may be absent. */
export function cutOrNull(value: string | null | undefined, size: ColumnSize): string | null {
  return value === null || value === undefined ? null : cutToFit(value, size);
}

/**
 * MariaDB error codes that refuse a value itself (too long, out of range,
 * not a date), as opposed to the database being unavailable or busy: the
 * message carrying it cannot be stored however often it is tried.
 */
const REFUSED_VALUE_CODES = new Set([
  'ER_DATA_TOO_LONG',
  'ER_WARN_DATA_OUT_OF_RANGE',
  'ER_TRUNCATED_WRONG_VALUE',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_WRONG_VALUE',
  'ER_WRONG_VALUE_FOR_TYPE',
  'ER_INVALID_CHARACTER_STRING',
  'ER_BAD_NULL_ERROR',
  'ER_DATETIME_FUNCTION_OVERFLOW',
  'ER_WARN_NULL_TO_NOTNULL',
  'ER_DIVISION_BY_ZERO',
]);

/** True when the database refused a value of the row, not the write as such. */
export function isRefusedValue(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return typeof err.code === 'string' && REFUSED_VALUE_CODES.has(err.code);
}

/**
 * Rows in the largest statement. The driver keeps, with each statement it
 * has prepared, a description of every placeholder, for as long as the
 * connection lives: with 256 rows the shapes of the three tables held about
 * 20,000 of them, a few megabytes the garbage collector then lets the heap
 * grow to several times over (about 20 MB more at the peak of a run of
 * 500,000 loans). 32 rows take a few more round trips per batch.
 */
export const LARGEST_STATEMENT = 32;

/** How many rows each statement takes: at most one statement of each size below the largest. */
export function statementSizes(rows: number, largest = LARGEST_STATEMENT): number[] {
  const out: number[] = [];
  let left = rows;
  while (left >= largest) {
    out.push(largest);
    left -= largest;
  }
  for (let size = largest >> 1; size >= 1; size >>= 1) {
    if (left >= size) {
      out.push(size);
      left -= size;
    }
  }
  return out;
}

const statementText = new Map<string, string>();
function insertStatement(table: string, columns: readonly string[], rows: number): string {
  const key = `${table}|${rows}`;
  let sql = statementText.get(key);
  if (!sql) {
    const one = `(${columns.map(() => '?').join(',')})`;
    sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rows }, () => one).join(',')}`;
    statementText.set(key, sql);
  }
  return sql;
}

/** One transaction on one connection of knex's pool. */
export class WriteTransaction {
  constructor(private readonly conn: DriverConnection) {}

  query<T>(sql: string, values: unknown[] = []): Promise<T> {
    return new Promise((resolve, reject) => {
      this.conn.query(sql, values, (err, result) => {
        if (err) reject(err);
        else resolve(result as T);
      });
    });
  }

  private execute(sql: string, values: Value[]): Promise<OkPacket> {
    return new Promise((resolve, reject) => {
      this.conn.execute(sql, values, (err, result) => {
        if (err) reject(err);
        else resolve(result as OkPacket);
      });
    });
  }

  /**
   * Inserts rows in fixed-size statements; returns, per statement, the first
   * id it was given and how many rows it took (in the order of `rows`).
   */
  async insert(table: string, columns: readonly string[], rows: Row[]): Promise<Array<{ firstId: number; rows: number }>> {
    const out: Array<{ firstId: number; rows: number }> = [];
    let at = 0;
    for (const size of statementSizes(rows.length)) {
      const values: Value[] = [];
      for (let r = at; r < at + size; r += 1) {
        const row = rows[r];
        for (let c = 0; c < row.length; c += 1) values.push(row[c]);
      }
      const ok = await this.execute(insertStatement(table, columns, size), values);
      out.push({ firstId: ok.insertId, rows: size });
      at += size;
    }
    return out;
  }
}

/**
 * Runs `work` in a transaction on a connection taken from knex's pool (and
 * given back after); any failure rolls the whole transaction back.
 */
export async function inWriteTransaction<T>(knex: Knex, work: (tx: WriteTransaction) => Promise<T>): Promise<T> {
  const pool = knex.client as unknown as KnexPool;
  const conn = await pool.acquireConnection();
  const tx = new WriteTransaction(conn);
  try {
    await tx.query('START TRANSACTION');
    let out: T;
    try {
      out = await work(tx);
    } catch (err) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await tx.query('COMMIT');
    return out;
  } finally {
    await pool.releaseConnection(conn);
  }
}

/**
 * Whether one multi-row INSERT gets consecutive ids from the first one on,
 * so they need not be read back: InnoDB promises it for a plain INSERT with
 * a known row count unless innodb_autoinc_lock_mode is 2 ("interleaved",
 * MySQL 8's default), and only with auto_increment_increment 1.
 */
export async function idsAreConsecutive(knex: Knex): Promise<boolean> {
  try {
    const [rows] = await knex.raw<[Array<{ lock_mode: unknown; step: unknown } | undefined>]>(
      'SELECT @@innodb_autoinc_lock_mode AS lock_mode, @@auto_increment_increment AS step',
    );
    const row = rows[0];
    return !!row && Number(row.step) === 1 && (Number(row.lock_mode) === 0 || Number(row.lock_mode) === 1);
  } catch {
    return false;
  }
}
