/** What a returned message says about the notice that caused it. */
export const BOUNCE_KINDS = ['hard', 'soft', 'complaint', 'autoreply', 'delivered', 'not_bounce', 'unknown'] as const;
export type BounceKind = (typeof BOUNCE_KINDS)[number];

/** The message that was returned, as far as the report quotes it. */
export interface ReturnedMessage {
  /** Message-ID without angle brackets. */
  messageId: string | null;
  /** First address of its To header, lower-case. */
  to: string | null;
  /** Its Return-Path (the envelope sender it went out with), lower-case. */
  returnPath: string | null;
  subject: string | null;
  /** Its X-... headers (lower-case names), first value of each. */
  xHeaders: Record<string, string>;
}

export interface BounceVerdict {
  kind: BounceKind;
  /** The address that failed (or complained, or auto-replied), lower-case. */
  recipient: string | null;
  /** Enhanced status code (RFC 3463) such as 5.1.1, when known. */
  status: string | null;
  /** The remote server's words, trimmed and bounded. */
  diagnostic: string | null;
  /** A short reason word: userunknown, mailboxfull, hostunknown, expired, blocked, spam, policy, ... */
  reason: string | null;
  /** The address this report was sent to when it carries a tag after "+" (our VERP return path), else the report's own recipient. */
  returnPath: string | null;
  /** The tag after "+" in the return path's local part (for us "<message id>.<signature>"), for the caller to check. */
  verpTag: string | null;
  original: ReturnedMessage | null;
}
