/**
 * The bounce listener: an SMTP server for the bounce domain, where the library
 * points the domain's MX (or its relay's transport). It takes mail only for
 * addresses at the bounce domain, and answers 250 only once the message has
 * been handed on, so a message is never lost: the sending server keeps it and
 * tries again if handing it on failed.
 */
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { SettingsError } from '../errors';
import type { Logger } from '../logging';

/** smtp-server, loaded when the bounce listener starts (only with KMC_BOUNCE_LISTEN). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const smtpServer = () => require('smtp-server') as typeof import('smtp-server');

/** Who sent a message to the listener, and to whom, as the SMTP conversation said. */
export interface BounceEnvelope {
  /** The envelope sender (MAIL FROM); empty for the null sender `<>` that bounces come from. */
  mailFrom: string;
  /** The envelope recipients (RCPT TO), lower-case: our return paths. */
  rcptTo: string[];
  /** The sending server's IP address. */
  remoteAddress: string;
}

export interface BounceListenerOptions {
  host: string;
  /** 0 takes a free port (tests). */
  port: number;
  /** The bounce domain(s): mail to any other domain is refused at RCPT with 550. */
  domains: readonly string[];
  /** Larger messages are refused with 552. */
  maxBytes: number;
  /** Hands one message on; the sender gets 250 once it resolves, 451 (try again later) if it throws. */
  onMessage: (raw: Buffer, envelope: BounceEnvelope) => Promise<void>;
  /** The name the listener greets with; the machine's name when not given. */
  serverName?: string;
  /** How long stop() waits for conversations under way before cutting them off. */
  closeTimeoutMs?: number;
  logger?: Logger;
}

export interface BounceListener {
  host: string;
  port: number;
  /** Stops taking connections and ends the listener, waiting a bounded time for messages under way. */
  stop(): Promise<void>;
}

/** At most this many recipients in one message: a bounce has one, a backlog of returned notices a few. */
const MAX_RECIPIENTS = 100;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Start the listener; resolves once it takes connections. */
export async function startBounceListener(opts: BounceListenerOptions): Promise<BounceListener> {
  const domains = new Set(opts.domains.map((d) => d.trim().toLowerCase()).filter((d) => d !== ''));
  if (!domains.size) throw new SettingsError('bounce domain', 'the bounce listener needs at least one domain to take mail for');
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1)
    throw new SettingsError('bounce message size', `${String(opts.maxBytes)} is not a size in bytes`);
  const log = opts.logger;

  const onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    if (!domains.has(domainOf(address.address))) {
      log?.debug('bounces.listener.recipient_refused', { recipient: address.address, remoteAddress: session.remoteAddress });
      callback(smtpError(550, '5.1.1 Not a bounce address here: this server takes only returned mail for its own domain'));
      return;
    }
    if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) {
      callback(smtpError(452, '4.5.3 Too many recipients'));
      return;
    }
    callback();
  };

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    const chunks: Buffer[] = [];
    let kept = 0;
    stream.on('data', (chunk: Buffer) => {
      // Past the limit nothing more is kept: the message is refused at the end anyway.
      if (kept + chunk.length <= opts.maxBytes) chunks.push(chunk);
      kept += chunk.length;
    });
    stream.on('end', () => {
      if (stream.sizeExceeded || kept > opts.maxBytes) {
        log?.warn('bounces.listener.too_large', { bytes: kept, maxBytes: opts.maxBytes, remoteAddress: session.remoteAddress });
        callback(smtpError(552, `5.3.4 Message too big: at most ${String(opts.maxBytes)} bytes`));
        return;
      }
      const envelope: BounceEnvelope = {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcptTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
        remoteAddress: session.remoteAddress,
      };
      opts.onMessage(Buffer.concat(chunks), envelope).then(
        () => {
          log?.info('bounces.listener.received', {
            bytes: kept,
            recipients: envelope.rcptTo.length,
            remoteAddress: envelope.remoteAddress,
          });
          callback(null);
        },
        (err: unknown) => {
          log?.warn('bounces.listener.not_taken', {
            error: err instanceof Error ? err.message : String(err),
            remoteAddress: envelope.remoteAddress,
          });
          callback(smtpError(451, '4.3.0 Could not take the message now, please try again later'));
        },
      );
    });
  };

  const server = new (smtpServer().SMTPServer)({
    name: opts.serverName,
    secure: false,
    // Bounces come from any mail server on the internet, unauthenticated: there is nobody to sign in.
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: opts.maxBytes,
    closeTimeout: opts.closeTimeoutMs ?? 10_000,
    logger: false,
    onRcptTo,
    onData,
  });
  server.on('error', (err: Error) => {
    // A client that hangs up or speaks nonsense ends its own connection; the listener goes on.
    log?.debug('bounces.listener.connection_error', { error: err.message });
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  log?.info('bounces.listener.started', { host: opts.host, port: address.port, domains: [...domains] });

  let stopping: Promise<void> | null = null;
  return {
    host: opts.host,
    port: address.port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => {
          log?.info('bounces.listener.stopped', { port: address.port });
          resolve();
        });
      });
      return stopping;
    },
  };
}
