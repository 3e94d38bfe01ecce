// Delivery: the worker that hands due messages to their channels.
export {
  DEFAULT_RETRY_POLICY,
  DeliveryWorker,
  MAYBE_DELIVERED_CODES,
  backoffMs,
  type DeliveryDeps,
  type DeliveryStats,
  type RetryPolicy,
} from './worker';
export { ReceiptTally, waitForReceipts, type ReceiptWaitDeps, type ReceiptWaitOptions, type ReceiptWaitResult } from './receipts';
export { SendingPace, type PaceHold, type PaceRule } from './pace';
export { SendCountStore } from './send-counts';
