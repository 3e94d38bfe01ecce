/**
 * The one database connection factory. Dates come back as strings: Koha keeps
 * local library times, the sidecar keeps UTC, and neither may be shifted by
 * the driver guessing a zone.
 */
import knexFactory, { Knex } from 'knex';

export type { Knex };

export function createKnex(url: string, opts: { poolMax?: number } = {}): Knex {
  return knexFactory({
    client: 'mysql2',
    connection: {
      uri: url,
      dateStrings: true,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
    } as never,
    pool: {
      min: 0,
      max: opts.poolMax ?? 8,
      // Our own timestamps are UTC; defaults such as CURRENT_TIMESTAMP must agree.
      afterCreate(conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) {
        conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
      },
    },
  });
}

/** UTC instant as stored in the sidecar's DATETIME(3) columns. */
export function toDbTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

export function fromDbTime(s: string | null): Date | null {
  if (!s) return null;
  return new Date(s.replace(' ', 'T') + 'Z');
}

/** True when the error is MariaDB's duplicate-key refusal. */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'ER_DUP_ENTRY';
}

export { migrate, migrationStatus, ownTables, type MigrationStatus } from './migrations';
