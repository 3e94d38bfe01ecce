/**
 * The settings staff change on the pages without a restart, one row per
 * name in kmc_settings (the engine's rules branch and currency, the
 * verification's settings, whether staff change only their own branch's
 * rules). This module owns that table's SQL; each capability reads and
 * checks its own names through it.
 */
import type { Knex } from 'knex';

interface SettingRow {
  name: string;
  value: string | null;
}

/** What a capability needs to read its settings. */
export interface SettingsReader {
  /** Values of the named settings; names with no row are left out. */
  values(names: readonly string[]): Promise<Record<string, string | null>>;
  /** Whether a setting of this name has a row (even an empty one). */
  has(name: string): Promise<boolean>;
}

export class SettingsStore implements SettingsReader {
  constructor(private readonly knex: Knex) {}

  private table() {
    return this.knex<SettingRow>('kmc_settings');
  }

  async values(names: readonly string[]): Promise<Record<string, string | null>> {
    if (!names.length) return {};
    const rows = await this.table().whereIn('name', names).select('name', 'value');
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  async has(name: string): Promise<boolean> {
    return (await this.table().where({ name }).first('name')) !== undefined;
  }

  /** Sets a value (staff on the pages); null removes the row, so the default applies again. */
  async set(name: string, value: string | null): Promise<void> {
    if (value === null) await this.table().where({ name }).delete();
    else await this.table().insert({ name, value }).onConflict('name').merge(['value']);
  }

  /** Sets a value only if the setting has none yet (of two sidecars at once, the first one's stays). */
  async setOnce(name: string, value: string): Promise<void> {
    await this.table().insert({ name, value }).onConflict('name').ignore();
  }
}
