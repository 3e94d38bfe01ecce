/**
 * Notices: the generators of each type (overdue levels, bills, predue, holds,
 * welcome, staff messages), the run that records and stores what they make,
 * the review and approval of a routine's run, and rendering a stored
 * message again for another channel.
 */
export type { NoticeDeps, EmailGate, EmailGateState } from './context';
export type { Clock } from '../kernel';
export { systemClock } from '../kernel';
export { BranchDirectory, patronTemplateData, type BranchSettingsSource } from './context';
export { runNotices, type RunRequest, type RunResult } from './run';
export { isMessageType } from '../kernel';
export type { RunStats } from './runs';
export { coverageKey, idempotencyKey } from './engine';
export type { RoutineCriteria } from '../scheduling';
export { sendStaffMessage, type StaffMessageRequest, type StaffMessageResult } from './staff';
export { renderAgain, resentContent, type RenderedAgain } from './render-again';
export { NoticeRecheck, staleCause, STALE_WORDS, type StaleCause, type RecheckOutcome } from './recheck';
export { previewPatronData, PREVIEW_LOANS, type PreviewPatron } from './preview';
export { RunApproval, type ApprovalResult, type RunApprovalDeps, type StartedRun } from './approval';
export { rulesCommand, routinesCommand, messageCommand, type NoticeCommandServices, type OpenServices } from './cli';
