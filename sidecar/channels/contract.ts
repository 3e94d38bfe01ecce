/**
 * The one contract every channel adapter (e-mail, SMS, print) fulfils. The
 * delivery worker only ever talks to this interface, and the conformance suite
 * in test/integration/channel-contract.test.ts runs against every adapter.
 */
import type { ChannelName } from '../kernel';
export type { ChannelName };

/** What the worker hands an adapter: one rendered message, ready to go. */
export interface OutgoingMessage {
  id: number;
  channel: ChannelName;
  /** E-mail address, E.164 phone number, or postal address block for print. */
  to: string;
  /** Sender: e-mail address, SMS source address, or branch name for print. */
  from: string;
  replyTo?: string | null;
  subject: string;
  text: string;
  html?: string | null;
  /** Kept by the sidecar so receipts and bounces can be matched later. */
  messageIdHeader?: string | null;
  branchcode?: string | null;
  /** The notice run that made it (print: the letters of a run and branch go in one PDF). */
  runId?: number | null;
  /** The message's language (the patron's). */
  lang?: string | null;
}

/** The adapter's verdict on one send. Exactly one of three outcomes. */
export type SendOutcome =
  | {
      kind: 'accepted';
      providerId: string | null;
      reply: string;
      /** Which account of the channel took it (SMS: system_id@host:port), when it has several. */
      account?: string;
    }
  /** Worth trying again: 4xx reply, dropped connection, throttling, time-out. */
  | { kind: 'retry'; code: string; reason: string; retryAfterMs?: number }
  /** Will never work as it is: 5xx reply, invalid destination, bad address. */
  | { kind: 'failed'; code: string; reason: string };

export interface ChannelAdapter {
  readonly channel: ChannelName;
  /**
   * How many sends are worth having in flight at once (the SMPP window, the
   * SMTP pool); the worker keeps that many going. Absent: the worker's default.
   */
  readonly maxInFlight?: number;
  /**
   * The account of the channel that carries a branch's messages (SMS: system_id@host:port), for the limits
   * kept per account; absent: one account.
   */
  paceAccount?(branchcode: string | null): string | null;
  start(): Promise<void>;
  /** Stops taking new sends and waits for those in flight. */
  stop(): Promise<void>;
  send(message: OutgoingMessage): Promise<SendOutcome>;
  /**
   * Resolves once what the channel accepted is fully written where staff
   * find it (print: the PDFs of the print folder). Absent: nothing to wait for.
   */
  idle?(): Promise<void>;
}
