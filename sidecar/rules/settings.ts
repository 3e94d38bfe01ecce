/**
 * The engine's settings kept in kmc_settings (edited on the staff pages),
 * read and checked once per run; a bad value names the setting.
 */
import { SettingsError } from '../errors';
import type { SettingsReader } from '../settings';
import type { MessageType } from '../kernel';

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

/**
 * Which branch a notice speaks for: it sends it (sender, SMS account), its
 * templates and letter address are that branch's, its letters go to that
 * branch's print folder, and its calendar and quiet hours are that branch's.
 */
export const NOTICE_BRANCH_CHOICES = ['patron', 'issuing', 'item_home', 'pickup'] as const;
export type NoticeBranch = (typeof NOTICE_BRANCH_CHOICES)[number];

/**
 * The types a library may choose for, with the choices that make sense for
 * each (a hold has no issuing branch, a loan no pickup branch) and the
 * default: the patron's home branch for loans (as before the choice
 * existed), the pickup branch for holds. Welcome notices are always the
 * patron's home branch's.
 */
export const NOTICE_BRANCH_TYPES: Readonly<Record<string, { choices: readonly NoticeBranch[]; byDefault: NoticeBranch }>> = {
  overdue: { choices: ['patron', 'issuing', 'item_home'], byDefault: 'patron' },
  replacement_bill: { choices: ['patron', 'issuing', 'item_home'], byDefault: 'patron' },
  predue: { choices: ['patron', 'issuing', 'item_home'], byDefault: 'patron' },
  hold_waiting: { choices: ['pickup', 'patron', 'item_home'], byDefault: 'pickup' },
  hold_reminder: { choices: ['pickup', 'patron', 'item_home'], byDefault: 'pickup' },
};

/** The kmc_settings name of a type's choice, e.g. `notice_branch.overdue`. */
export const noticeBranchSetting = (type: string) => `notice_branch.${type}`;

export interface EngineSettings {
  rulesBranch: RulesBranch;
  /** The branch each message type speaks for (types not chosen for: the code's own choice). */
  noticeBranch: Partial<Record<MessageType, NoticeBranch>>;
  /** Shown after amounts when Koha has no active currency (e.g. "SEK", "kr"); null for none. */
  currency: string | null;
}

export async function loadEngineSettings(settings: Pick<SettingsReader, 'values'>): Promise<EngineSettings> {
  const values = await settings.values(['rules_branch', 'currency', ...Object.keys(NOTICE_BRANCH_TYPES).map(noticeBranchSetting)]);
  const get = (name: string) => values[name]?.trim() || null;
  const rulesBranch = get('rules_branch') ?? 'issuing';
  if (!isRulesBranch(rulesBranch)) {
    throw new SettingsError('rules_branch', `must be one of ${RULES_BRANCH_CHOICES.join(', ')} (kmc_settings), got "${rulesBranch}"`);
  }
  const currency = get('currency');
  if (currency !== null && currency.length > 16)
    throw new SettingsError('currency', `must be a short currency code or symbol (kmc_settings), got "${currency}"`);
  const noticeBranch: Partial<Record<MessageType, NoticeBranch>> = {};
  for (const [type, { choices, byDefault }] of Object.entries(NOTICE_BRANCH_TYPES)) {
    const name = noticeBranchSetting(type);
    const chosen = get(name) ?? byDefault;
    if (!(choices as readonly string[]).includes(chosen))
      throw new SettingsError(name, `must be one of ${choices.join(', ')} (kmc_settings), got "${chosen}"`);
    noticeBranch[type as MessageType] = chosen as NoticeBranch;
  }
  return { rulesBranch, currency, noticeBranch };
}
