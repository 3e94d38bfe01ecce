/**
 * The words every capability shares: the kinds of notice, the channels a
 * notice goes by, and the statuses a message moves through.
 */

export const MESSAGE_TYPES = [
  'hold_waiting',
  'hold_reminder',
  'predue',
  'overdue',
  'replacement_bill',
  'welcome',
  'email_verification',
  'staff_message',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Overdue notices come in levels 1 to 5; every other type has level 0. */
export const OVERDUE_LEVELS = [1, 2, 3, 4, 5] as const;

export const CHANNELS = ['email', 'sms', 'print'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/**
 * A message's status. Only the queue's transitions change it; every change
 * is written to the message's history with its reason and who made it.
 */
export const MESSAGE_STATUSES = [
  'proposed',
  'held',
  'pending',
  'sending',
  'sent',
  'to_print',
  'printed',
  'delivered',
  'bounced',
  'failed',
  'missing_contact',
  'cancelled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value);
}

export function isChannel(value: unknown): value is ChannelName {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}
