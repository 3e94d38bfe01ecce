/**
 * E-mail over SMTP with a pooled nodemailer transport. The server's reply
 * decides the outcome: 2xx accepted, 4xx or a dropped connection is worth a
 * retry, 5xx is final and its reply is kept.
 */
import { createTransport, type Transporter, type TransportOptions } from 'nodemailer';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';
import { isUsableEmail } from '../../contact';
import { messageIdFor } from '../../kernel';

export interface SmtpOptions {
  url: string;
  /** Connections kept open to the server. */
  maxConnections?: number;
  /** Per-connection time-outs; kept short so a hung server does not stall a batch. */
  timeoutMs?: number;
  bcc?: string | null;
  /** The envelope sender (return path) of each message, where its bounces come back; the header From stays the branch's. */
  returnPath?: (message: OutgoingMessage) => string | null;
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
  private inFlight = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(private readonly opts: SmtpOptions) {}

  /** Two per pooled connection: the next message is ready the moment a connection is free. */
  get maxInFlight(): number {
    return (this.opts.maxConnections ?? 5) * 2;
  }

  start(): Promise<void> {
    // Opening the pool waits for nothing; a malformed URL still comes back as a rejected start.
    return new Promise((resolve) => {
      this.transport = this.openPool();
      this.stopping = false;
      resolve();
    });
  }

  /** The pooled transport; it connects on the first send. */
  private openPool(): Transporter {
    const url = new URL(this.opts.url);
    const timeout = this.opts.timeoutMs ?? 30_000;
    return createTransport({
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
    } as TransportOptions);
  }

  /** Connects, greets and signs in (when the URL has a user), sending nothing: `kmc doctor` asks this. */
  async verify(): Promise<void> {
    if (!this.transport) await this.start();
    await this.transport?.verify();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    this.transport?.close();
    this.transport = null;
  }

  send(message: OutgoingMessage): Promise<SendOutcome> {
    if (this.stopping || !this.transport)
      return Promise.resolve({ kind: 'retry', code: 'SMTP_STOPPED', reason: 'the e-mail channel is stopping' });
    // The promise handed back is the one stop() waits for, so a caller sees its outcome first.
    const job: Promise<SendOutcome> = this.sendNow(message, this.transport).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    return job;
  }

  private async sendNow(message: OutgoingMessage, transport: Transporter): Promise<SendOutcome> {
    // A malformed address is never handed to the server.
    if (!isUsableEmail(message.to)) return { kind: 'failed', code: 'EMAIL_INVALID_ADDRESS', reason: 'the e-mail address is not valid' };
    const messageId = message.messageIdHeader ?? messageIdFor(message.id, message.from);
    const returnPath = this.opts.returnPath?.(message) ?? null;
    const job = transport.sendMail({
      // With an envelope of its own nodemailer takes the recipients from it alone: the Bcc goes in too.
      envelope: returnPath ? { from: returnPath, to: [message.to, ...(this.opts.bcc ? [this.opts.bcc] : [])] } : undefined,
      from: message.from,
      to: message.to,
      replyTo: message.replyTo ?? undefined,
      bcc: this.opts.bcc ?? undefined,
      subject: message.subject,
      text: message.text,
      html: message.html ?? undefined,
      messageId,
      headers: { 'X-KMC-Message': String(message.id) },
    });
    try {
      const info = await job;
      return { kind: 'accepted', providerId: info.messageId, reply: info.response ?? '' };
    } catch (err) {
      return classifySmtpError(err as SmtpError);
    }
  }
}
