/**
 * The engine's settings kept in kmc_settings (edited on the staff pages),
 * read and checked once per run; a bad value names the setting.
 */
import { SettingsError } from '../errors';
import type { SettingsReader } from '../settings';

export const RULES_BRANCH_CHOICES = ['issuing', 'item_home', 'patron'] as const;
/** Whose branch picks the rules for a loan: where it was issued, the item's home, or the patron's. */
export type RulesBranch = (typeof RULES_BRANCH_CHOICES)[number];

function isRulesBranch(value: string): value is RulesBranch {
  return (RULES_BRANCH_CHOICES as readonly string[]).includes(value);
}

/** With kmc_settings `rules_own_branch_only` on, staff change only their own branch's rules. */
export async function loadRulesOwnBranchOnly(settings: Pick<SettingsReader, 'values'>): Promise<boolean> {
  const values = await settings.values(['rules_own_branch_only']);
  return ['1', 'true', 'yes'].includes((values.rules_own_branch_only ?? '').trim().toLowerCase());
}

export interface EngineSettings {
  rulesBranch: RulesBranch;
  /** Shown after amounts when Koha has no active currency (e.g. "SEK", "kr"); null for none. */
  currency: string | null;
}

export async function loadEngineSettings(settings: Pick<SettingsReader, 'values'>): Promise<EngineSettings> {
  const values = await settings.values(['rules_branch', 'currency']);
  const get = (name: string) => values[name]?.trim() || null;
  const rulesBranch = get('rules_branch') ?? 'issuing';
  if (!isRulesBranch(rulesBranch)) {
    throw new SettingsError('rules_branch', `must be one of ${RULES_BRANCH_CHOICES.join(', ')} (kmc_settings), got "${rulesBranch}"`);
  }
  const currency = get('currency');
  if (currency !== null && currency.length > 16)
    throw new SettingsError('currency', `must be a short currency code or symbol (kmc_settings), got "${currency}"`);
  return { rulesBranch, currency };
}
