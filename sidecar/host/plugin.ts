/**
 * Koha's plugin switch, read as Koha reads it. Koha counts a plugin as
 * enabled only when its `plugin_data` row `__ENABLED__` holds 1; an empty
 * value or NULL is off. Uninstalling a plugin in Koha deletes all its rows,
 * so once the sidecar has seen the plugin installed (noted in kmc_settings),
 * no rows at all mean "uninstalled" and the sidecar stops. A sidecar that
 * never saw the plugin runs on its own; KMC_WITHOUT_PLUGIN keeps it running
 * after an uninstall too.
 */
import type { Knex } from 'knex';

/** The kmc_settings row that says the sidecar has seen the plugin installed (its value: when, first). */
export const PLUGIN_SEEN_SETTING = 'koha_plugin_seen';

export interface PluginState {
  /** Koha has rows of the plugin's class in `plugin_data`. */
  installed: boolean;
  /** `__INSTALLED_VERSION__`, when Koha recorded one. */
  version: string | null;
  /** The `__ENABLED__` toggle as Koha reads it: on only when it holds 1. */
  enabled: boolean;
  /** The sidecar has seen the plugin installed before (kmc_settings). */
  seenBefore: boolean;
  /** Whether the sidecar generates and sends: the toggle when installed; otherwise see `PluginSwitchOptions`. */
  on: boolean;
}

/** Where the sidecar notes that it has seen the plugin (the kmc_settings store). */
export interface PluginSeenRecord {
  has(name: string): Promise<boolean>;
  /** Left out where nothing may be written (kmc doctor): the note is then only read. */
  setOnce?: (name: string, value: string) => Promise<void>;
}

export interface PluginSwitchOptions {
  seen: PluginSeenRecord;
  /** KMC_WITHOUT_PLUGIN: a plugin that is not installed does not stop the sidecar, even after it was seen. */
  withoutPlugin: boolean;
  /** When the sidecar first saw the plugin (the note's value). */
  now: () => Date;
}

/** Koha's test: `plugin_value = 1`. */
export function toggleIsOn(value: string | null | undefined): boolean {
  return (value ?? '').trim() === '1';
}

export function pluginSwitch(knex: Knex, opts: PluginSwitchOptions) {
  let noted = false;
  return async function pluginState(pluginClass: string): Promise<PluginState> {
    const rows = await knex('plugin_data')
      .where({ plugin_class: pluginClass })
      .select<Array<{ plugin_key: string; plugin_value: string | null }>>('plugin_key', 'plugin_value');
    const value = (key: string) => rows.find((r) => r.plugin_key === key)?.plugin_value ?? null;
    const installed = rows.length > 0;
    const enabled = toggleIsOn(value('__ENABLED__'));
    const version = value('__INSTALLED_VERSION__');
    if (installed) {
      if (!noted && opts.seen.setOnce) {
        await opts.seen.setOnce(PLUGIN_SEEN_SETTING, opts.now().toISOString());
        noted = true;
      }
      return { installed, version, enabled, seenBefore: true, on: enabled };
    }
    const seenBefore = await opts.seen.has(PLUGIN_SEEN_SETTING);
    // Seen once and now gone: uninstalled in Koha, so off, unless the admin said the sidecar runs without it.
    return { installed, version, enabled, seenBefore, on: opts.withoutPlugin || !seenBefore };
  };
}
