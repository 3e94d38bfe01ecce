/**
 * The queue: every message, from the moment it is made until it is
 * anonymised. The store reads; the transitions (one module per state move)
 * are the only code that changes a message's status or writes its history;
 * the placement rule decides pending, held or proposed for every path.
 */
export { MESSAGE_STATUSES, type MessageStatus } from '../kernel';
export type {
  NewMessage,
  NewMessageItem,
  MessageRow,
  MessageItemRow,
  MessageEventRow,
  InsertResult,
  CompletionChange,
  SmsReceipt,
  SmsReceiptRow,
  QueueQuery,
  QueuePage,
} from './types';
export { MessageStore, STAFF_QUEUE_STATUSES, type StaffQueueFilter, type QueuedMessage, type LoanCoverageRow } from './store';
export {
  type ListedMessage,
  type ArchiveQuery,
  type ArchiveResult,
  type BoundedCount,
  type KeysetPage,
  type PageCursor,
  COUNT_LIMIT,
  type DayCountRow,
  type LetterMessage,
  type HeldItemLine,
  type SmsErrorLine,
} from './staff-reads';
export {
  placeMessage,
  WAITING_FOR_VERIFICATION,
  VERIFICATION_EXPIRED,
  type Placement,
  type PlacementFacts,
  type EmailGate,
  type EmailGateState,
} from './placement';
export { QuietHours, QUIET_HOURS_REASON, isQuietAt, localClock, type QuietWindow, type QuietHoursSource } from './quiet-hours';
export { releaseQuietHours, type QuietReleaseDeps } from './release';
export {
  QueueActions,
  QUEUE_ACTIONS,
  type QueueAction,
  type ActionOutcome,
  type QueueActionDeps,
  type ResentContent,
  type Replacement,
} from './actions';
export type { MessageContent } from './transitions/rewrite';
export type { Move } from './transitions/move';
export type { StaleCancel } from './transitions/stale';
export { BOUNCEABLE_STATUSES, type BounceReport } from './transitions/bounce';
export type { ReceiptOutcome } from './transitions/receipt';
export { FINAL_STATUSES } from './transitions/anonymise';
export { fromDbTime } from '../db';
export { cutToFit, isRefusedValue, CUT_MARKER, type ColumnSize } from './insert';
