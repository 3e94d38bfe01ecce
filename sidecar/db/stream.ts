/**
 * Reading a large result row by row. knex's own `.stream()` gives its
 * connection back to the pool twice (once when the query ends, once when the
 * stream closes); between the two another caller may have been handed the
 * connection, which the second give-back then hands to a third: two
 * transactions on one connection, one rolling back the other's rows. Here a
 * connection is taken once and given back once, and a reader that stops
 * early leaves a connection that is closed rather than mid-result.
 */
import type { Readable } from 'node:stream';
import type { Knex } from 'knex';

/** The part of the mysql2 connection (callback style, as knex holds it) used here. */
interface StreamingConnection {
  query(sql: string, values: unknown): { stream(options: { highWaterMark: number }): Readable };
  destroy(): void;
}

interface StreamingPool {
  acquireConnection(): Promise<StreamingConnection>;
  releaseConnection(conn: StreamingConnection): unknown;
}

/** Rows buffered ahead of the reader: enough to keep the server busy, little memory. */
const ROWS_AHEAD = 256;

/** The rows of a query, one at a time, on one connection of knex's pool. */
export async function* streamRows<T>(knex: Knex, query: Knex.QueryBuilder | Knex.Raw): AsyncGenerator<T> {
  const { sql, bindings } = query.toSQL().toNative();
  const pool = knex.client as unknown as StreamingPool;
  const conn = await pool.acquireConnection();
  let readToEnd = false;
  try {
    const rows = conn.query(sql, bindings).stream({ highWaterMark: ROWS_AHEAD });
    for await (const row of rows) yield row as T;
    readToEnd = true;
  } finally {
    // Rows still on their way would arrive for the next user of the connection: close it, the pool replaces it.
    if (!readToEnd) conn.destroy();
    await pool.releaseConnection(conn);
  }
}
