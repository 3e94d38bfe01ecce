/**
 * Notification rules: which rule applies to a loan, a hold or a patron, and
 * so which delay, channels, fees and template (kmc_rules, owned by the rule
 * store); the engine's settings; the import of Koha's overdue triggers.
 */
export {
  OverdueRuleChain,
  createRuleStore,
  parseChannels,
  resolveRule,
  ruleApplies,
  specificity,
  validateRuleInput,
  type ImportOutcome,
  type Rule,
  type RuleInput,
  type RuleStore,
  type RuleSubject,
} from './rules';
export {
  loadEngineSettings,
  loadRulesOwnBranchOnly,
  noticeBranchSetting,
  NOTICE_BRANCH_CHOICES,
  NOTICE_BRANCH_TYPES,
  RULES_BRANCH_CHOICES,
  type EngineSettings,
  type NoticeBranch,
  type RulesBranch,
} from './settings';
export { importKohaRules, type ImportedRule, type ImportReport } from './import-koha';
export { MESSAGE_TYPES, OVERDUE_LEVELS, type MessageType } from '../kernel';
