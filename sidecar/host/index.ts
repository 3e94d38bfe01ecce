/**
 * Koha's side: the only code that reads Koha's tables (never writes them).
 */
export { createHostReader, type HostReader, type LoansAndHoldsNow } from './reader';
export { PLUGIN_SEEN_SETTING, type PluginState, type PluginSeenRecord, type PluginSwitchOptions } from './plugin';
export type { Branch, PatronContact, OverdueLoan, EmailChangeRow, KohaLetter, KohaQueuedNotices } from './types';
export { KOHA_JOBS_DAYS, KOHA_JOB_LETTER_PREFIXES, type KohaNoticeReader } from './koha-notices';
export type { KohaSmtpServer, KohaSmtpServers } from './smtp';
export type { KohaBranchCalendar } from './calendar';
export { createStaffReader, type StaffReader, type StaffAccount, type StaffLogin, type SubPermission, type ItemShelving } from './staff';
export type {
  LoanCandidate,
  WaitingHold,
  NewPatron,
  MessagingChoice,
  KohaOverdueTrigger,
  KohaCirculationTrigger,
  KohaCurrency,
  NoticeReader,
} from './notices';
