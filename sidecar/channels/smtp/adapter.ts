/**
 * E-mail over SMTP with a pooled nodemailer transport. The server's reply
 * decides the outcome: 2xx accepted, 4xx or a dropped connection is worth a
 * retry, 5xx is final and its reply is kept.
 */
import type { Transporter, TransportOptions } from 'nodemailer';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';
import { isUsableEmail } from '../../contact';
import { ADDRESS_PROBLEM_TEXT, checkAddress, checkSender } from '../../addresses';
import { messageIdFor } from '../../kernel';
import { dkimKeyFor, type DkimKey } from '../../config';
import { openPool, type SmtpTransports } from './transports';

export interface SmtpOptions {
  url: string;
  /** Connections kept open to the server. */
  maxConnections?: number;
  /** Per-connection time-outs; kept short so a hung server does not stall a batch. */
  timeoutMs?: number;
  /**
   * A copy of every e-mail to this address, as a Bcc (Koha's `NoticeBcc`): a
   * fixed address, or asked before each message so a change in Koha is followed.
   */
  bcc?: string | null | (() => Promise<string | null>);
  /** DKIM keys per sending domain: mail from a domain with a key is signed with it. */
  dkim?: readonly DkimKey[];
  /** Koha's SMTP servers and the branches' own: a branch named there sends through its server, not `url`. */
  servers?: SmtpTransports | null;
  /** The envelope sender (return path) of each message, where its bounces come back; the header From stays the branch's. */
  returnPath?: (message: OutgoingMessage) => string | null | Promise<string | null>;
  /** The DKIM key of the message's branch, when its settings hold one; used when its domain covers the sender's. */
  branchDkim?: (message: OutgoingMessage) => Promise<DkimKey | null>;
}

const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNRESET',
  'EPROTOCOL',
  'ECONNREFUSED',
  'EAUTH',
  'ESTREAM',
]);

/**
 * Every notice is an automatic message (RFC 3834), said in the forms mail
 * programs look for, so out-of-office and vacation replies are not sent back:
 * Auto-Submitted for RFC 3834 responders, X-Auto-Response-Suppress for
 * Exchange and Outlook, and Precedence: bulk for the older vacation programs.
 * `bulk` rather than `auto_reply`: a notice is not a reply to anything, and
 * `bulk` is the value vacation programs have skipped the longest.
 */
export const AUTOMATIC_MESSAGE_HEADERS: Readonly<Record<string, string>> = {
  'Auto-Submitted': 'auto-generated',
  'X-Auto-Response-Suppress': 'All',
  Precedence: 'bulk',
};

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

export function classifySmtpError(err: SmtpError): SendOutcome {
  const reply = err.response ?? err.message;
  if (typeof err.responseCode === 'number') {
    if (err.responseCode >= 500) return { kind: 'failed', code: `SMTP_${err.responseCode}`, reason: reply };
    if (err.responseCode >= 400) return { kind: 'retry', code: `SMTP_${err.responseCode}`, reason: reply };
  }
  if (err.code && TRANSIENT_CODES.has(err.code)) return { kind: 'retry', code: `SMTP_${err.code}`, reason: reply };
  if (err.code === 'EENVELOPE') return { kind: 'failed', code: 'SMTP_EENVELOPE', reason: reply };
  // Unknown trouble: retrying is the choice that loses nothing; the retry budget bounds it.
  return { kind: 'retry', code: `SMTP_${err.code ?? 'ERROR'}`, reason: reply };
}

export class SmtpAdapter implements ChannelAdapter {
  readonly channel = 'email' as const;
  private transport: Transporter | null = null;
  /** The pool's options, worked out by start(); the pool itself (and nodemailer) only on the first send. */
  private poolOptions: TransportOptions | null = null;
  private inFlight = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(private readonly opts: SmtpOptions) {}

  /** Two per pooled connection: the next message is ready the moment a connection is free. */
  get maxInFlight(): number {
    return (this.opts.maxConnections ?? 5) * 2;
  }

  start(): Promise<void> {
    // A malformed URL still comes back as a rejected start. The pool opens on the first send: a delivery with no
    // e-mail in it (SMS only, or nothing due) does not load the mail library.
    return new Promise((resolve) => {
      this.poolOptions = this.poolSettings();
      this.stopping = false;
      resolve();
    });
  }

  /** The pooled transport, opened on first use; it connects on the first send. */
  private pool(): Transporter | null {
    if (!this.transport && this.poolOptions) this.transport = openPool(this.poolOptions);
    return this.transport;
  }

  private poolSettings(): TransportOptions {
    const url = new URL(this.opts.url);
    const timeout = this.opts.timeoutMs ?? 30_000;
    return {
      pool: true,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
      secure: url.protocol === 'smtps:',
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      maxConnections: this.opts.maxConnections ?? 5,
      maxMessages: 500,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // Loopback test servers and internal relays often lack STARTTLS; use it when offered.
      ignoreTLS: url.searchParams.get('tls') === 'off',
      tls: { rejectUnauthorized: url.searchParams.get('tls') !== 'insecure' },
    } as TransportOptions;
  }

  /** Connects, greets and signs in (when the URL has a user), sending nothing: `kmc doctor` asks this. */
  async verify(): Promise<void> {
    if (!this.poolOptions) await this.start();
    await this.pool()?.verify();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    this.transport?.close();
    this.transport = null;
    this.poolOptions = null;
    this.opts.servers?.close();
  }

  send(message: OutgoingMessage): Promise<SendOutcome> {
    const transport = this.stopping ? null : this.pool();
    if (!transport) return Promise.resolve({ kind: 'retry', code: 'SMTP_STOPPED', reason: 'the e-mail channel is stopping' });
    // The promise handed back is the one stop() waits for, so a caller sees its outcome first.
    const job: Promise<SendOutcome> = this.sendNow(message, transport).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    return job;
  }

  private async sendNow(message: OutgoingMessage, ownTransport: Transporter): Promise<SendOutcome> {
    // A malformed address is never handed to the server.
    if (!isUsableEmail(message.to)) return { kind: 'failed', code: 'EMAIL_INVALID_ADDRESS', reason: 'the e-mail address is not valid' };
    let transport = ownTransport;
    if (this.opts.servers) {
      try {
        transport = (await this.opts.servers.routeFor(message.branchcode ?? null))?.transport ?? ownTransport;
      } catch (err) {
        // Koha's server list could not be read: try again later rather than send through the wrong server.
        return { kind: 'retry', code: 'SMTP_SERVER_LIST', reason: err instanceof Error ? err.message : String(err) };
      }
    }
    // Nor a sender or reply-to that fails the address check: a line break there would write headers of its own.
    const from = checkSender(message.from);
    if (!from.ok)
      return {
        kind: 'failed',
        code: 'EMAIL_INVALID_SENDER',
        reason: `the sender address is refused: ${ADDRESS_PROBLEM_TEXT[from.problem]}`,
      };
    // Reply-To may carry the branch's name, as From does.
    const replyTo = message.replyTo ? checkSender(message.replyTo) : null;
    if (replyTo && !replyTo.ok)
      return {
        kind: 'failed',
        code: 'EMAIL_INVALID_SENDER',
        reason: `the reply-to address is refused: ${ADDRESS_PROBLEM_TEXT[replyTo.problem]}`,
      };
    let copyTo: string | null;
    try {
      copyTo = typeof this.opts.bcc === 'function' ? await this.opts.bcc() : (this.opts.bcc ?? null);
    } catch (err) {
      // The copy address could not be read: try again later rather than send without the copy the library asked for.
      return { kind: 'retry', code: 'SMTP_BCC_UNREAD', reason: err instanceof Error ? err.message : String(err) };
    }
    const bcc = copyTo ? checkAddress(copyTo) : null;
    const messageId = message.messageIdHeader ?? messageIdFor(message.id, from.address);
    // The branch's own key first, then the keys of KMC_DKIM_KEYS.
    const branchKey = this.opts.branchDkim ? await this.opts.branchDkim(message) : null;
    const key = (branchKey ? dkimKeyFor([branchKey], from.address) : null) ?? dkimKeyFor(this.opts.dkim ?? [], from.address);
    // The return path passes the same check; one that fails it is left out, and bounces go to the sender.
    const tagged = (await this.opts.returnPath?.(message)) ?? null;
    const checkedPath = tagged ? checkAddress(tagged) : null;
    const returnPath = checkedPath?.ok ? checkedPath.address : null;
    const job = transport.sendMail({
      // With an envelope of its own nodemailer takes the recipients from it alone: the Bcc goes in too.
      envelope: returnPath ? { from: returnPath, to: [message.to, ...(bcc?.ok ? [bcc.address] : [])] } : undefined,
      from: from.name ? { name: from.name, address: from.address } : from.address,
      to: message.to,
      replyTo: replyTo?.ok ? (replyTo.name ? { name: replyTo.name, address: replyTo.address } : replyTo.address) : undefined,
      // A copy address that fails the check is left out, never passed on.
      bcc: bcc?.ok ? bcc.address : undefined,
      subject: message.subject,
      text: message.text,
      html: message.html ?? undefined,
      messageId,
      headers: { ...AUTOMATIC_MESSAGE_HEADERS, 'X-KMC-Message': String(message.id) },
      ...(key ? { dkim: { domainName: key.domain, keySelector: key.selector, privateKey: key.privateKey } } : {}),
    });
    try {
      const info = await job;
      return { kind: 'accepted', providerId: info.messageId, reply: info.response ?? '' };
    } catch (err) {
      return classifySmtpError(err as SmtpError);
    }
  }
}
