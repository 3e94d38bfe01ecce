/**
 * The rows of the queue's tables and what callers hand the queue, typed
 * once: a new message with its items, a stored message, its items and its
 * history, outcomes of a delivery attempt and SMS receipts.
 */
import type { ChannelName, MessageStatus } from '../kernel';

export interface NewMessageItem {
  coverageKey: string | null;
  issueId?: number | null;
  reserveId?: number | null;
  itemnumber?: number | null;
  biblionumber?: number | null;
  barcode?: string | null;
  title?: string | null;
  author?: string | null;
  dateDue?: string | null;
  fee?: number;
}

export interface NewMessage {
  idempotencyKey: string;
  messageType: string;
  level: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: ChannelName;
  status: Extract<MessageStatus, 'proposed' | 'held' | 'pending' | 'missing_contact'>;
  statusReason?: string | null;
  to: string | null;
  from: string | null;
  replyTo?: string | null;
  lang: string | null;
  subject: string;
  text: string;
  html: string | null;
  fee: number;
  runId: number | null;
  ruleId: number | null;
  /** The plain template data it was rendered from, kept so it can be rendered again by another channel. */
  renderData?: unknown;
  /** The library day (YYYY-MM-DD) the notice was made for; later overdue levels count from it. */
  noticeDate?: string | null;
  routineId?: number | null;
  items: NewMessageItem[];
}

export interface MessageRow {
  id: number;
  idempotency_key: string;
  message_type: string;
  level: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: ChannelName;
  status: MessageStatus;
  status_reason: string | null;
  to_address: string | null;
  from_address: string | null;
  reply_to: string | null;
  lang: string | null;
  subject: string | null;
  body_text: string | null;
  body_html: string | null;
  fee: string;
  run_id: number | null;
  attempts: number;
  next_attempt_at: string | null;
  lease_until: string | null;
  claimed_by: string | null;
  message_id_header: string | null;
  provider_id: string | null;
  /** The SMS account (system_id@host:port) that gave provider_id; null for e-mail and print. */
  provider_account?: string | null;
  last_reply: string | null;
  created_at: string;
  first_sent_at: string | null;
  updated_at: string;
  /** The plain template data it was rendered from (JSON), kept to render it again. */
  render_data?: string | null;
  rule_id?: number | null;
  routine_id?: number | null;
  notice_date?: string | null;
  anonymised_at?: string | null;
}

export interface MessageItemRow {
  id: number;
  message_id: number;
  coverage_key: string | null;
  biblionumber: number | null;
  issue_id: number | null;
  reserve_id: number | null;
  itemnumber: number | null;
  barcode: string | null;
  title: string | null;
  author: string | null;
  date_due: string | null;
  fee: string;
}

export interface MessageEventRow {
  message_id: number;
  at: string;
  status: MessageStatus;
  detail: string | null;
  actor: string | null;
}

export interface InsertResult {
  created: number;
  duplicates: number;
  ids: number[];
}

/** How a claimed message moves on after one attempt. */
export interface CompletionChange {
  status: Extract<MessageStatus, 'sent' | 'to_print' | 'pending' | 'failed'>;
  detail: string;
  at: Date;
  providerId?: string | null;
  /** The SMS account that gave providerId; receipts are matched on both. */
  providerAccount?: string | null;
  reply?: string | null;
  nextAttemptAt?: Date | null;
  reason?: string | null;
  /** The message's channel: receipts are looked for only for SMS (all when absent). */
  channel?: ChannelName;
  /** When the message was claimed (its updated_at as the claim left it): receipts older than that are not its. Absent: read from the row. */
  claimedAt?: Date;
}

/** A delivery receipt as the SMS channel read it. */
export interface SmsReceipt {
  providerId: string;
  state: 'delivered' | 'failed' | 'other';
  stat: string;
  err?: string;
  /** The SMS account it came in on (system_id@host:port). */
  account?: string | null;
}

export interface SmsReceiptRow {
  id: number;
  provider_id: string;
  provider_account: string;
  state: SmsReceipt['state'];
  stat: string;
  err: string | null;
  received_at: string;
  applied_at: string | null;
  message_id: number | null;
}

export interface QueueQuery {
  statuses: MessageStatus[];
  channel?: ChannelName | null;
  branchcode?: string | null;
  messageType?: string | null;
  borrowernumber?: number | null;
  /** Read messages older than this id (the previous page's nextBeforeId). */
  beforeId?: number | null;
  /** Page size, 1 to 500 (default 50). */
  limit?: number;
}

export interface QueuePage {
  messages: MessageRow[];
  /** How many messages match, over all pages. */
  total: number;
  nextBeforeId: number | null;
}
