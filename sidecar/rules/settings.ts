/**
 * The engine's settings kept in kmc_settings (edited on the staff pages),
 * read and checked once per run; a bad value names the setting.
 */
import type { Knex } from 'knex';
import { SettingsError } from '../errors';

export const RULES_BRANCH_CHOICES = ['issuing', 'item_home', 'patron'] as const;
/** Whose branch picks the rules for a loan: where it was issued, the item's home, or the patron's. */
export type RulesBranch = (typeof RULES_BRANCH_CHOICES)[number];

interface SettingRow {
  name: string;
  value: string | null;
}

/** With kmc_settings `rules_own_branch_only` on, staff change only their own branch's rules. */
export async function loadRulesOwnBranchOnly(knex: Knex): Promise<boolean> {
  const row = await knex<SettingRow>('kmc_settings').where({ name: 'rules_own_branch_only' }).first('value');
  return ['1', 'true', 'yes'].includes((row?.value ?? '').trim().toLowerCase());
}

export interface EngineSettings {
  rulesBranch: RulesBranch;
  /** Shown after amounts when Koha has no active currency (e.g. "SEK", "kr"); null for none. */
  currency: string | null;
}

export async function loadEngineSettings(knex: Knex): Promise<EngineSettings> {
  const rows = await knex<SettingRow>('kmc_settings').whereIn('name', ['rules_branch', 'currency']).select('name', 'value');
  const get = (name: string) => rows.find((r) => r.name === name)?.value?.trim() || null;
  const rulesBranch = get('rules_branch') ?? 'issuing';
  if (!(RULES_BRANCH_CHOICES as readonly string[]).includes(rulesBranch)) {
    throw new SettingsError('rules_branch', `must be one of ${RULES_BRANCH_CHOICES.join(', ')} (kmc_settings), got "${rulesBranch}"`);
  }
  const currency = get('currency');
  if (currency !== null && currency.length > 16)
    throw new SettingsError('currency', `must be a short currency code or symbol (kmc_settings), got "${currency}"`);
  return { rulesBranch: rulesBranch as RulesBranch, currency };
}
