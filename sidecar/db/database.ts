/**
 * The one database connection factory. Dates come back as strings: Koha keeps
 * local library times, the sidecar keeps UTC, and neither may be shifted by
 * the driver guessing a zone.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { KmcError, type ErrorCode } from '../errors';

/**
 * knex (and through it the MariaDB driver), loaded when the first handle is
 * made: `kmc --help` never loads it. The build bundles both into one file
 * beside this one (scripts/build.mjs), which loads in a fraction of the time
 * of the packages' 400-odd files; run from the source, the packages are used.
 */
const DRIVER_BUNDLE = path.join(__dirname, 'database-driver.js');
let knexModule: { knex: (config: Knex.Config) => Knex } | null = null;
const knexFactory = (config: Knex.Config): Knex => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, as said above
  knexModule ??= (existsSync(DRIVER_BUNDLE) ? require(DRIVER_BUNDLE) : require('knex')) as { knex: (config: Knex.Config) => Knex };
  return knexModule.knex(config);
};

export type { Knex };

/** knex's own warnings (a failed connection, with its stack) are dropped: for a caller that reports the error itself. */
const silentKnexLog = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };

/** Where knex's own warnings go instead of its console.log on stdout, which belongs to the command's answer. */
export interface KnexLogSink {
  warn(message: string): void;
}

export function createKnex(
  url: string,
  opts: { poolMax?: number; quiet?: boolean; log?: KnexLogSink; multipleStatements?: boolean } = {},
): Knex {
  const sink = opts.log;
  const text = (m: unknown) => (m instanceof Error ? m.message : String(m));
  return knexFactory({
    client: 'mysql2',
    ...(opts.quiet ? { log: silentKnexLog } : {}),
    ...(!opts.quiet && sink
      ? {
          log: {
            warn: (m: unknown) => {
              sink.warn(text(m));
            },
            error: (m: unknown) => {
              sink.warn(text(m));
            },
            deprecate: (m: unknown) => {
              sink.warn(text(m));
            },
            debug: () => undefined,
          },
        }
      : {}),
    connection: {
      uri: url,
      dateStrings: true,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      // Only for pools whose queries are all built with bindings: several statements in one round trip.
      ...(opts.multipleStatements ? { multipleStatements: true } : {}),
    },
    pool: {
      min: 0,
      max: opts.poolMax ?? 8,
      // Our own timestamps are UTC; defaults such as CURRENT_TIMESTAMP must agree.
      afterCreate(conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) {
        conn.query("SET time_zone = '+00:00'", (err) => {
          done(err, conn);
        });
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

/** A connection to the server of a database URL, without the database: for creating and dropping it. */
function serverOf(url: string): { server: Knex; name: string } {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  u.pathname = '/';
  return { server: knexFactory({ client: 'mysql2', connection: u.toString(), pool: { min: 0, max: 1 } }), name };
}

/**
 * Drops and creates a scratch database (the demo's, the benchmark's). Only a
 * database whose name starts with the given prefix is ever dropped, so a
 * mistyped URL cannot reach a library's real data.
 */
export async function recreateDatabase(url: string, guard: { prefix: string; code: ErrorCode; what: string }): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!new RegExp(`^${guard.prefix}[a-z0-9_]*$`).test(name)) {
    throw new KmcError(guard.code, `${guard.what} only rebuilds a database named ${guard.prefix}…, not "${name}"`);
  }
  const { server } = serverOf(url);
  try {
    await server.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await server.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await server.destroy();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const { server, name } = serverOf(url);
  try {
    await server.raw(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await server.destroy();
  }
}

export { migrate, migrationStatus, ownTables, type MigrationStatus } from './migrations';
