/**
 * Koha's side: the only code that reads Koha's tables (never writes them).
 */
export { createHostReader, type HostReader, type PluginState } from './reader';
export type { KohaSmtpServer, KohaSmtpServers } from './smtp';
export type { KohaBranchCalendar } from './calendar';
export type { Branch, PatronContact, OverdueLoan, EmailChangeRow } from './types';
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
