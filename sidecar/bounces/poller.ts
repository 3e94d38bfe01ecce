/**
 * The bounce poller: for libraries that can only offer a mailbox for their
 * return path, it reads the mailbox over IMAP. It touches only what it has
 * classified as bounce-related (moves it to the processed folder, or marks it
 * read with a keyword); every other message stays exactly where it was, unread
 * and unflagged: a return path's mailbox is often a person's mailbox too.
 */
import type { ImapFlow } from 'imapflow';
import { SettingsError, UnavailableError } from '../errors';
import type { Logger } from '../logging';
import type { BounceKind } from './verdict';

/** imapflow, loaded on the first poll of the bounce mailbox (only a server with KMC_BOUNCE_IMAP_URL polls). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const imap = () => require('imapflow') as typeof import('imapflow');

/** The kinds the poller takes out of the way; `not_bounce` and `unknown` are left where they are. */
export const BOUNCE_RELATED_KINDS: ReadonlySet<BounceKind> = new Set<BounceKind>(['hard', 'soft', 'complaint', 'autoreply', 'delivered']);

/** How far a poll got in a mailbox: the messages up to this UID were all read (a UID is only valid under its UIDVALIDITY). */
export interface MailboxCheckpoint {
  uidValidity: string;
  uid: number;
}

export interface BounceMailboxOptions {
  host: string;
  port: number;
  /** TLS from the start (port 993); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user: string;
  password: string;
  /** The folder bounces arrive in; INBOX when not given. */
  mailbox?: string;
  /** Where bounce-related messages go once read; without one they are marked read with the keyword and stay. */
  processedMailbox?: string;
  /** The IMAP keyword set on bounce-related messages when there is no processed folder. */
  keyword?: string;
  /** At most this many messages are read per poll. */
  maxMessages?: number;
  /** Larger messages are left alone unread (no bounce is that big). */
  maxBytes?: number;
  /** Where the last poll got to: messages up to it are not read again (they were left alone on purpose). */
  after?: MailboxCheckpoint | null;
  /** Classifies (and records) one message; what it answers decides whether the message is touched. If it throws, the message stays as it was. */
  onMessage: (raw: Buffer) => Promise<{ kind: BounceKind }>;
  /** Set false only for a server with a self-signed certificate the library trusts. */
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
  logger?: Logger;
}

export interface BounceMailboxPoll {
  /** Messages read and classified. */
  checked: number;
  /** Bounce-related messages moved to the processed folder or marked. */
  taken: number;
  /** Messages that are no bounce, left as they were. */
  leftAlone: number;
  /** Messages that could not be classified or recorded now: left as they were, read again next poll. */
  failed: number;
  /** Messages over the size limit, left alone unread. */
  tooLarge: number;
  /** More unread messages are waiting than this poll read. */
  more: boolean;
  /** Pass it to the next poll. */
  checkpoint: MailboxCheckpoint | null;
}

const KEYWORD = /^[A-Za-z0-9$_.-]{1,64}$/;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One poll of the bounce mailbox: connects, reads up to maxMessages unread messages, oldest first, and logs out. */
export async function pollBounceMailbox(opts: BounceMailboxOptions): Promise<BounceMailboxPoll> {
  const mailbox = opts.mailbox ?? 'INBOX';
  const keyword = opts.keyword ?? 'KmcBounce';
  const maxMessages = opts.maxMessages ?? 50;
  const maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
  const log = opts.logger;
  if (!KEYWORD.test(keyword)) throw new SettingsError('bounce mailbox keyword', `"${keyword}" is not an IMAP keyword`);
  if (opts.processedMailbox === mailbox)
    throw new SettingsError('bounce processed folder', 'must be another folder than the one bounces arrive in');
  if (!Number.isSafeInteger(maxMessages) || maxMessages < 1)
    throw new SettingsError('bounce mailbox batch', `${String(maxMessages)} is not a number of messages`);

  const timeout = opts.timeoutMs ?? 30_000;
  const client = new (imap().ImapFlow)({
    host: opts.host,
    port: opts.port,
    secure: opts.secure,
    auth: { user: opts.user, pass: opts.password },
    tls: { rejectUnauthorized: opts.rejectUnauthorized ?? true },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  client.on('error', (err: unknown) => {
    // The failing command rejects as well and ends the poll; this only keeps the error from going unheard.
    log?.warn('bounces.mailbox.connection_error', { host: opts.host, mailbox, error: errorText(err) });
  });

  const poll: BounceMailboxPoll = {
    checked: 0,
    taken: 0,
    leftAlone: 0,
    failed: 0,
    tooLarge: 0,
    more: false,
    checkpoint: opts.after ?? null,
  };
  await client.connect();
  try {
    const lock = await client.getMailboxLock(mailbox);
    try {
      await readMailbox(client, poll, { ...opts, mailbox, keyword, maxMessages, maxBytes });
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => {
      client.close();
    });
  }
  const { checked, taken, leftAlone, failed, tooLarge, more } = poll;
  log?.info('bounces.mailbox.polled', { host: opts.host, mailbox, checked, taken, leftAlone, failed, tooLarge, more });
  return poll;
}

type Settled = BounceMailboxOptions & { mailbox: string; keyword: string; maxMessages: number; maxBytes: number };

async function readMailbox(client: ImapFlow, poll: BounceMailboxPoll, opts: Settled): Promise<void> {
  const log = opts.logger;
  if (!client.mailbox) throw new UnavailableError('KMC_NOT_AVAILABLE', `the bounce mailbox ${opts.mailbox} could not be opened`);
  const uidValidity = String(client.mailbox.uidValidity);
  // Under another UIDVALIDITY the old UIDs mean nothing: read from the start.
  const after = opts.after?.uidValidity === uidValidity ? opts.after.uid : 0;
  const found = await client.search({ seen: false, unKeyword: opts.keyword, uid: `${String(after + 1)}:*` }, { uid: true });
  // "n:*" also matches the last message when n is beyond it.
  const unread = (found || []).filter((uid) => uid > after).sort((a, b) => a - b);
  const batch = unread.slice(0, opts.maxMessages);
  poll.more = unread.length > batch.length;
  poll.checkpoint = { uidValidity, uid: after };
  if (!batch.length) return;

  let destination = opts.processedMailbox;
  // Without MOVE and UIDPLUS a move ends in a plain EXPUNGE, which would also remove messages a person marked
  // deleted: then the messages are marked instead.
  if (destination && !client.capabilities.has('MOVE') && !client.capabilities.has('UIDPLUS')) {
    log?.warn('bounces.mailbox.cannot_move', { host: opts.host, mailbox: opts.mailbox, reason: 'server has neither MOVE nor UIDPLUS' });
    destination = undefined;
  }
  if (destination) await client.mailboxCreate(destination);

  const sizes = new Map<number, number>();
  for (const m of await client.fetchAll(batch.join(','), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);

  // The checkpoint moves past a message only when every message before it is done with.
  let advancing = true;
  for (const uid of batch) {
    const done = await readOne(client, uid, sizes.get(uid), poll, opts, destination);
    if (!done) advancing = false;
    if (advancing) poll.checkpoint = { uidValidity, uid };
  }
}

/** Reads, classifies and (if bounce-related) takes one message. False when it must be read again next poll. */
async function readOne(
  client: ImapFlow,
  uid: number,
  size: number | undefined,
  poll: BounceMailboxPoll,
  opts: Settled,
  destination: string | undefined,
): Promise<boolean> {
  const log = opts.logger;
  if (size === undefined) return true; // gone since the search (moved or deleted by someone else)
  if (size > opts.maxBytes) {
    poll.tooLarge++;
    log?.info('bounces.mailbox.too_large', { mailbox: opts.mailbox, uid, bytes: size, maxBytes: opts.maxBytes });
    return true;
  }
  // BODY.PEEK: reading leaves the message unread.
  const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
  if (!message || !message.source) return true;
  let kind: BounceKind;
  try {
    ({ kind } = await opts.onMessage(message.source));
  } catch (err: unknown) {
    poll.failed++;
    log?.warn('bounces.mailbox.not_taken', { mailbox: opts.mailbox, uid, error: errorText(err) });
    return false;
  }
  poll.checked++;
  if (!BOUNCE_RELATED_KINDS.has(kind)) {
    poll.leftAlone++;
    return true;
  }
  const touched = destination
    ? (await client.messageMove(String(uid), destination, { uid: true })) !== false
    : await client.messageFlagsAdd(String(uid), ['\\Seen', opts.keyword], { uid: true });
  if (!touched) {
    poll.failed++;
    log?.warn('bounces.mailbox.not_moved', { mailbox: opts.mailbox, uid, destination: destination ?? null });
    return false;
  }
  poll.taken++;
  log?.debug('bounces.mailbox.taken', { mailbox: opts.mailbox, uid, kind, destination: destination ?? null });
  return true;
}
