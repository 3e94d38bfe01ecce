/**
 * Scratch databases for integration tests: each test file gets its own
 * database on the real MariaDB, named after this process so parallel runs do
 * not collide, and dropped when the run ends.
 */
import knexFactory, { Knex } from 'knex';

export const testServerUrl = process.env.KMC_TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test';

let counter = 0;
const created: string[] = [];
let admin: Knex | null = null;

export function adminKnex(): Knex {
  admin ??= knexFactory({ client: 'mysql2', connection: testServerUrl, pool: { min: 0, max: 2 } });
  return admin;
}

export function urlFor(database: string, user?: { name: string; password: string }): string {
  const u = new URL(testServerUrl);
  u.pathname = `/${database}`;
  if (user) {
    u.username = encodeURIComponent(user.name);
    u.password = encodeURIComponent(user.password);
  }
  return u.toString();
}

export function connect(url: string, extra: Partial<Knex.Config> = {}): Knex {
  return knexFactory({
    client: 'mysql2',
    connection: { uri: url, multipleStatements: true, dateStrings: true, charset: 'utf8mb4' } as never,
    pool: { min: 0, max: 4 },
    ...extra,
  });
}

export interface ScratchDatabase {
  name: string;
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

/** An empty database of our own, with utf8mb4 as Koha uses. */
export async function createScratchDatabase(label = 'db'): Promise<ScratchDatabase> {
  counter += 1;
  const name = `kmct_${process.pid}_${counter}_${label}`.slice(0, 64).replace(/[^a-z0-9_]/gi, '_');
  await adminKnex().raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  created.push(name);
  const url = urlFor(name);
  const knex = connect(url);
  return {
    name,
    url,
    knex,
    async drop() {
      await knex.destroy();
      await adminKnex().raw(`DROP DATABASE IF EXISTS \`${name}\``);
    },
  };
}

/** Called once after the whole run: leaves no scratch database behind. */
export async function dropAllScratchDatabases(): Promise<void> {
  if (!admin) return;
  for (const name of created) await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.destroy();
  admin = null;
}
