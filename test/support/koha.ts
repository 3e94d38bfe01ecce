/**
 * Scratch databases with Koha's tables in them. The schema is the project's
 * fixture, unless KMC_TEST_KOHA_SCHEMA names Koha's own SQL file: then every
 * test file runs against the real schema, foreign keys and all.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createKohaFixtureSchema, loadRealKohaSchema } from '../../sidecar/fixture';
import { createScratchDatabase, type ScratchDatabase } from './db';

export type KohaSchemaKind = 'fixture' | 'real';

/** Where Koha's schema file sits beside a checkout (as CI lays it out). */
const SIBLING_SCHEMA = path.resolve(__dirname, '../../../shared/koha/kohastructure-core.sql');

/** The schema test files get by default: 'real' when KMC_TEST_KOHA_SCHEMA is set. */
export function kohaSchemaKind(): KohaSchemaKind {
  return process.env.KMC_TEST_KOHA_SCHEMA ? 'real' : 'fixture';
}

/** Koha's SQL file for the real schema: the env variable, else the sibling checkout's copy. */
export function realKohaSchemaPath(): string {
  const file = process.env.KMC_TEST_KOHA_SCHEMA || SIBLING_SCHEMA;
  if (!existsSync(file)) {
    throw new Error(`Koha schema file not found: ${file} (set KMC_TEST_KOHA_SCHEMA to the path of kohastructure SQL)`);
  }
  return file;
}

export interface KohaDatabase extends ScratchDatabase {
  schema: KohaSchemaKind;
}

/** A scratch database holding Koha's tables, empty. */
export async function createKohaDatabase(label: string, opts: { schema?: KohaSchemaKind } = {}): Promise<KohaDatabase> {
  const schema = opts.schema ?? kohaSchemaKind();
  const file = schema === 'real' ? realKohaSchemaPath() : null;
  const db = await createScratchDatabase(label);
  try {
    if (file) await loadRealKohaSchema(db.knex, file);
    else await createKohaFixtureSchema(db.knex);
  } catch (err) {
    await db.drop();
    throw err;
  }
  return { ...db, schema };
}
