// The sidecar's database: connections, times, migrations.
export {
  createKnex,
  dropDatabase,
  fromDbTime,
  isDuplicateKey,
  migrate,
  migrationStatus,
  ownTables,
  recreateDatabase,
  toDbTime,
  type Knex,
  type MigrationStatus,
} from './database';
export { streamRows } from './stream';
