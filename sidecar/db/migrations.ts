/**
 * Runs the SQL files in sql/ in name order, each once, and records them.
 * The files are append-only; a changed file that was already applied is
 * reported, never silently re-run.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { KmcError } from '../errors';

export const SQL_DIR = path.resolve(__dirname, '..', '..', 'sql');
const LEDGER = 'kmc_schema_migrations';

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrationFiles(dir = SQL_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Statements end with a semicolon at the end of a line; comment lines go first. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Every table the migrations create: what the least-privilege user needs rights on. */
export function ownTables(dir = SQL_DIR): string[] {
  const names = new Set<string>([LEDGER]);
  for (const f of readMigrationFiles(dir)) {
    for (const m of f.sql.matchAll(/CREATE TABLE(?: IF NOT EXISTS)?\s+`?(kmc_[a-z0-9_]+)`?/gi)) names.add(m[1]);
  }
  return [...names].sort();
}

async function ensureLedger(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE IF NOT EXISTS ${LEDGER} (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    checksum CHAR(64) NOT NULL,
    applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  changed: string[];
  current: boolean;
}

export async function migrationStatus(knex: Knex, dir = SQL_DIR): Promise<MigrationStatus> {
  const files = readMigrationFiles(dir);
  let rows: Array<{ name: string; checksum: string }> = [];
  try {
    rows = await knex(LEDGER).select('name', 'checksum');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_NO_SUCH_TABLE') throw err;
  }
  const done = new Map(rows.map((r) => [r.name, r.checksum]));
  const pending = files.filter((f) => !done.has(f.name)).map((f) => f.name);
  const changed = files.filter((f) => done.has(f.name) && done.get(f.name) !== f.checksum).map((f) => f.name);
  return { applied: [...done.keys()].sort(), pending, changed, current: pending.length === 0 && changed.length === 0 };
}

export async function migrate(knex: Knex, dir = SQL_DIR): Promise<{ applied: string[] }> {
  await ensureLedger(knex);
  const status = await migrationStatus(knex, dir);
  if (status.changed.length) {
    throw new KmcError(
      'KMC_MIGRATION_CHANGED',
      `applied migrations were edited afterwards: ${status.changed.join(', ')}; add a new file instead`,
    );
  }
  const applied: string[] = [];
  for (const file of readMigrationFiles(dir)) {
    if (!status.pending.includes(file.name)) continue;
    // DDL commits on its own in MariaDB, so each statement is written to be safe to repeat.
    for (const statement of splitStatements(file.sql)) await knex.raw(statement);
    await knex(LEDGER).insert({ name: file.name, checksum: file.checksum }).onConflict('name').ignore();
    applied.push(file.name);
  }
  return { applied };
}
