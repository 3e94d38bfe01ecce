/**
 * E-mail composed, signed and sent on a thread of its own. Building a
 * message (MIME, quoted-printable, DKIM) is most of the CPU an e-mail costs;
 * on the thread it runs beside the main thread's claims, outcomes and pages,
 * on the machine's second core. The thread keeps the pooled connections; the
 * main thread still decides everything about a message (addresses, server,
 * key, return path) and reads the server's answer.
 */
import path from 'node:path';
import type { SendMailOptions, TransportOptions } from 'nodemailer';
import { TaskThread } from '../../kernel';

/** What the adapter needs of a pooled transport: nodemailer's own, or one whose pool lives on the thread. */
export interface MailTransport {
  sendMail(mail: SendMailOptions): Promise<{ messageId: string; response?: string }>;
  verify(): Promise<unknown>;
  close(): void;
}

/** One task for the thread: a transport (by its number and options, opened on first use) and what to do with it. */
export type MailTask =
  | { op: 'send'; transport: number; options: TransportOptions; mail: SendMailOptions }
  | { op: 'verify'; transport: number; options: TransportOptions }
  | { op: 'close'; transport: number };

export interface MailSent {
  messageId: string;
  response: string;
}

export class MailThread {
  private readonly thread = new TaskThread<MailTask, MailSent | null>(path.join(__dirname, 'mail-thread-entry'), 'the e-mail thread');
  private transports = 0;

  /** A pooled transport whose connections and messages live on the thread (its pool opens on the first send). */
  transport(options: TransportOptions): MailTransport {
    const transport = (this.transports += 1);
    let used = false;
    return {
      sendMail: async (mail) => {
        used = true;
        return (await this.thread.run({ op: 'send', transport, options, mail })) as MailSent;
      },
      verify: () => {
        used = true;
        return this.thread.run({ op: 'verify', transport, options });
      },
      close: () => {
        // A pool never used was never opened: nothing to close, and no thread to start for it.
        if (used) void this.thread.run({ op: 'close', transport }).catch(() => undefined);
      },
    };
  }

  /** Ends the thread once what it was handed is done. */
  close(): Promise<void> {
    return this.thread.close();
  }
}
