/**
 * A real SMTP server that keeps what it receives in memory: the demo's
 * mail sink, and the peer the integration tests send to. A `respond` hook
 * lets a test make it answer 4xx/5xx or drop the connection.
 */
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface CapturedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  parsed: ParsedMail;
  raw: string;
  receivedAt: Date;
}

/** What to do with the next message: accept, answer with a code, or hang up. */
export type CaptureVerdict = { action: 'accept' } | { action: 'reply'; code: number; message: string } | { action: 'drop' };

export interface MailCaptureOptions {
  port?: number;
  host?: string;
  respond?: (envelope: { from: string; to: string[] }) => CaptureVerdict;
}

export class MailCapture {
  readonly messages: CapturedMail[] = [];
  private server: SMTPServer;
  private listeningPort = 0;
  respond: MailCaptureOptions['respond'];

  constructor(private readonly opts: MailCaptureOptions = {}) {
    this.respond = opts.respond;
    this.server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      size: 10 * 1024 * 1024,
      onData: (stream, session, callback) => {
        this.onData(stream, session, callback);
      },
    });
    this.server.on('error', () => {
      // A dropped client is normal here (tests drop on purpose); nothing to report.
    });
  }

  private onData(stream: NodeJS.ReadableStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
    });
    stream.on('end', () => {
      this.onEnd(chunks, session, callback).catch((err: unknown) => {
        // A mail the parser cannot read is refused rather than left without an answer.
        callback(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  private async onEnd(chunks: Buffer[], session: SMTPServerSession, callback: (err?: Error | null) => void): Promise<void> {
    const envelope = {
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      to: session.envelope.rcptTo.map((r) => r.address),
    };
    const verdict = this.respond?.(envelope) ?? { action: 'accept' };
    if (verdict.action === 'drop') {
      // Hang up without an answer, as a crashing or overloaded server would.
      (session as unknown as { socket?: { destroy(): void } }).socket?.destroy();
      const conns = (this.server as unknown as { connections?: Set<{ _socket?: { destroy(): void } }> }).connections;
      conns?.forEach((c) => c._socket?.destroy());
      return;
    }
    if (verdict.action === 'reply') {
      const err = new Error(verdict.message) as Error & { responseCode: number };
      err.responseCode = verdict.code;
      callback(err);
      return;
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const parsed = await simpleParser(raw);
    this.messages.push({ envelopeFrom: envelope.from, envelopeTo: envelope.to, parsed, raw, receivedAt: new Date() });
    callback(null);
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        resolve();
      });
    });
    this.listeningPort = (this.server.server.address() as AddressInfo).port;
    return this.listeningPort;
  }

  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.listeningPort}?tls=off`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}
