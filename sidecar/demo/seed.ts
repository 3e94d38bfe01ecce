/**
 * `kmc seed`: fills an empty database with a believable library in Koha's
 * tables (the project's own fixture schema). It refuses a database that
 * already has patrons, so it can never touch a real library's data.
 */
import type { Settings } from '../config';
import { createKnex } from '../db';
import { KmcError } from '../errors';
import { createKohaFixtureSchema, seedLibrary, type SeedSummary } from '../fixture';
import { libraryDay } from '../kernel';

export interface SeedRequest {
  patrons?: number;
  loans?: number;
  biblios?: number;
  holds?: number;
  seed?: number;
  today?: string;
  onProgress?: (message: string) => void;
}

export async function seedDemoDatabase(settings: Settings, req: SeedRequest): Promise<SeedSummary> {
  const knex = createKnex(settings.databaseUrl);
  try {
    const hasBorrowers = await knex.schema.hasTable('borrowers');
    if (hasBorrowers) {
      const row = await knex('borrowers').count({ n: '*' }).first();
      if (Number(row?.n ?? 0) > 0) {
        throw new KmcError('KMC_SEED_REFUSED', 'the database already has patrons; kmc seed only fills an empty database');
      }
    } else {
      await createKohaFixtureSchema(knex);
    }
    return await seedLibrary(knex, {
      today: req.today ?? libraryDay(new Date(), settings.timezone),
      seed: req.seed,
      patrons: req.patrons,
      loans: req.loans,
      biblios: req.biblios,
      holds: req.holds,
      onProgress: req.onProgress,
    });
  } finally {
    await knex.destroy();
  }
}
