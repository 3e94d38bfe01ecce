import { expect } from 'chai';
import { ImapFlow } from 'imapflow';
import {
  classifyBounce,
  pollBounceMailbox,
  readVerpTag,
  verpReturnPath,
  type BounceKind,
  type BounceMailboxOptions,
} from '../../sidecar/bounces';
import { createMemoryLogger } from '../../sidecar/logging';
import { deliveryStatusReport, ordinaryMail, outOfOffice } from '../support/bounce-reports';
import { startDovecot, type TestImapServer } from '../support/dovecot';

const secret = 'mailbox test secret';
const sender = 'notices@library.example';
/** No bounce domain: the return paths are plus-tags on the branch's own address, delivered to its mailbox. */
const returnPath = (id: number) => verpReturnPath(id, { secret, senderAddress: sender });

interface Stored {
  uid: number;
  flags: string[];
  messageId: string;
}

describe('bounce mailbox poller (imapflow against a real Dovecot)', function () {
  this.timeout(60_000);
  let server: TestImapServer;
  let client: ImapFlow;
  let mailboxCount = 0;

  before(async () => {
    server = await startDovecot();
    client = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      auth: { user: server.user, pass: server.password },
      logger: false,
    });
    await client.connect();
  });

  after(async () => {
    await client.logout().catch(() => undefined);
    await server.stop();
  });

  /** A fresh folder for each test, so what one poll does cannot hide in another test's mail. */
  async function freshMailbox(): Promise<string> {
    mailboxCount++;
    const name = `ReturnPath${String(mailboxCount)}`;
    await client.mailboxCreate(name);
    return name;
  }

  /** Puts a message into the mailbox as a mail server would deliver it: by IMAP APPEND, unread unless flags say otherwise. */
  async function deliver(mailbox: string, raw: string, flags: string[] = []): Promise<number> {
    const appended = await client.append(mailbox, raw, flags);
    if (!appended || appended.uid === undefined) throw new Error('APPEND gave no UID');
    return appended.uid;
  }

  /** Two bounces, an auto-reply and two unrelated mails, the unrelated ones in between. */
  async function deliverMixedMail(mailbox: string) {
    return {
      colleague: await deliver(mailbox, ordinaryMail(sender, 'Book sale', 'u1@library.example')),
      hard: await deliver(mailbox, deliveryStatusReport({ to: returnPath(101), deliveredTo: returnPath(101), messageId: 'r1@mx.example' })),
      autoreply: await deliver(mailbox, outOfOffice(returnPath(103), 'ooo-103@patron.example')),
      flaggedByStaff: await deliver(mailbox, ordinaryMail(sender, 'Staff meeting', 'u2@library.example'), ['\\Flagged']),
      soft: await deliver(
        mailbox,
        deliveryStatusReport({ to: returnPath(102), status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full', messageId: 'r2@mx.example' }),
      ),
    };
  }

  /** The messages of a folder with their flags; \Recent is left out, as it only says which session saw a message first. */
  async function contents(mailbox: string): Promise<Stored[]> {
    const lock = await client.getMailboxLock(mailbox);
    try {
      // Another session (the poller's) changed the folder: NOOP lets the server tell this one.
      await client.noop();
      if (!client.mailbox || !client.mailbox.exists) return [];
      const messages = await client.fetchAll('1:*', { uid: true, flags: true, envelope: true });
      return messages
        .map((m) => ({
          uid: m.uid,
          flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
          messageId: m.envelope?.messageId ?? '',
        }))
        .sort((a, b) => a.uid - b.uid);
    } finally {
      lock.release();
    }
  }

  /** What the sidecar would do: classify, note which message the tag names, answer the verdict. */
  function classifier(seen: Array<{ kind: BounceKind; messageId: number | null }>) {
    return async (raw: Buffer) => {
      const verdict = await classifyBounce(raw);
      seen.push({ kind: verdict.kind, messageId: readVerpTag(verdict.verpTag, secret)?.messageId ?? null });
      return verdict;
    };
  }

  function options(
    mailbox: string,
    onMessage: BounceMailboxOptions['onMessage'],
    more: Partial<BounceMailboxOptions> = {},
  ): BounceMailboxOptions {
    return {
      host: server.host,
      port: server.port,
      secure: false,
      user: server.user,
      password: server.password,
      mailbox,
      onMessage,
      ...more,
    };
  }

  it('moves the bounces and the auto-reply to the processed folder and leaves unrelated mail exactly as it was', async () => {
    const mailbox = await freshMailbox();
    const uids = await deliverMixedMail(mailbox);
    const before = await contents(mailbox);
    const seen: Array<{ kind: BounceKind; messageId: number | null }> = [];
    const logger = createMemoryLogger();

    const poll = await pollBounceMailbox(options(mailbox, classifier(seen), { processedMailbox: `${mailbox}/Processed`, logger }));

    expect(poll).to.include({ checked: 5, taken: 3, leftAlone: 2, failed: 0, tooLarge: 0, more: false });
    expect(seen.map((s) => s.kind).sort()).to.deep.equal(['autoreply', 'hard', 'not_bounce', 'not_bounce', 'soft']);
    expect(
      seen
        .filter((s) => s.messageId !== null)
        .map((s) => s.messageId)
        .sort(),
    ).to.deep.equal([101, 102, 103]);

    // The unrelated mail: same UIDs, still unread, the flags it had and no others.
    const after = await contents(mailbox);
    expect(after).to.deep.equal(before.filter((m) => m.uid === uids.colleague || m.uid === uids.flaggedByStaff));
    expect(after).to.deep.equal([
      { uid: uids.colleague, flags: [], messageId: '<u1@library.example>' },
      { uid: uids.flaggedByStaff, flags: ['\\Flagged'], messageId: '<u2@library.example>' },
    ]);
    const processed = await contents(`${mailbox}/Processed`);
    expect(processed.map((m) => m.messageId).sort()).to.deep.equal(['<ooo-103@patron.example>', '<r1@mx.example>', '<r2@mx.example>']);
    expect(logger.lines.find((l) => l.event === 'bounces.mailbox.polled')?.fields).to.include({ checked: 5, taken: 3 });
  });

  it('without a processed folder marks the bounces read with a keyword, in place, and leaves unrelated mail as it was', async () => {
    const mailbox = await freshMailbox();
    const uids = await deliverMixedMail(mailbox);
    const seen: Array<{ kind: BounceKind; messageId: number | null }> = [];

    const poll = await pollBounceMailbox(options(mailbox, classifier(seen)));
    expect(poll).to.include({ checked: 5, taken: 3, leftAlone: 2, failed: 0 });

    const after = await contents(mailbox);
    const flagsOf = (uid: number) => after.find((m) => m.uid === uid)?.flags;
    expect(after.map((m) => m.uid)).to.deep.equal(Object.values(uids).sort((a, b) => a - b));
    for (const uid of [uids.hard, uids.soft, uids.autoreply]) expect(flagsOf(uid)).to.deep.equal(['KmcBounce', '\\Seen']);
    expect(flagsOf(uids.colleague)).to.deep.equal([]);
    expect(flagsOf(uids.flaggedByStaff)).to.deep.equal(['\\Flagged']);

    // The next poll from the checkpoint reads nothing again; without it, only the unrelated mail, still leaving it alone.
    const next = await pollBounceMailbox(options(mailbox, classifier(seen), { after: poll.checkpoint }));
    expect(next).to.include({ checked: 0, taken: 0 });
    const fromStart = await pollBounceMailbox(options(mailbox, classifier(seen)));
    expect(fromStart).to.include({ checked: 2, taken: 0, leftAlone: 2 });
    expect(await contents(mailbox)).to.deep.equal(after);
  });

  it('reads at most maxMessages per poll, oldest first, and the next polls go on from the checkpoint', async () => {
    const mailbox = await freshMailbox();
    const uids = await deliverMixedMail(mailbox);
    const seen: Array<{ kind: BounceKind; messageId: number | null }> = [];
    const processedMailbox = `${mailbox}/Processed`;

    const first = await pollBounceMailbox(options(mailbox, classifier(seen), { processedMailbox, maxMessages: 2 }));
    expect(first).to.include({ checked: 2, taken: 1, leftAlone: 1, more: true });
    expect(first.checkpoint?.uid).to.equal(uids.hard);
    const second = await pollBounceMailbox(
      options(mailbox, classifier(seen), { processedMailbox, maxMessages: 2, after: first.checkpoint }),
    );
    expect(second).to.include({ checked: 2, taken: 1, leftAlone: 1, more: true });
    const third = await pollBounceMailbox(
      options(mailbox, classifier(seen), { processedMailbox, maxMessages: 2, after: second.checkpoint }),
    );
    expect(third).to.include({ checked: 1, taken: 1, leftAlone: 0, more: false });
    expect(seen).to.have.length(5);
    expect((await contents(mailbox)).map((m) => m.uid)).to.deep.equal([uids.colleague, uids.flaggedByStaff]);
  });

  it('leaves a message it could not classify or record as it was, and takes it on the next poll', async () => {
    const mailbox = await freshMailbox();
    const uids = await deliverMixedMail(mailbox);
    const seen: Array<{ kind: BounceKind; messageId: number | null }> = [];
    const classify = classifier(seen);
    let failOnce = true;
    const flaky = async (raw: Buffer) => {
      const verdict = await classify(raw);
      if (verdict.kind === 'hard' && failOnce) {
        failOnce = false;
        throw new Error('database gone');
      }
      return verdict;
    };

    const first = await pollBounceMailbox(options(mailbox, flaky));
    expect(first).to.include({ failed: 1, taken: 2, leftAlone: 2 });
    // The checkpoint stops before the message that failed.
    expect(first.checkpoint?.uid).to.equal(uids.colleague);
    expect((await contents(mailbox)).find((m) => m.uid === uids.hard)?.flags).to.deep.equal([]);

    const second = await pollBounceMailbox(options(mailbox, flaky, { after: first.checkpoint }));
    expect(second).to.include({ failed: 0, taken: 1 });
    expect((await contents(mailbox)).find((m) => m.uid === uids.hard)?.flags).to.deep.equal(['KmcBounce', '\\Seen']);
  });

  it('leaves a message over the size limit unread', async () => {
    const mailbox = await freshMailbox();
    const big = await deliver(mailbox, deliveryStatusReport({ to: returnPath(104) }) + 'x'.repeat(2000));
    const poll = await pollBounceMailbox(options(mailbox, classifier([]), { maxBytes: 1500 }));
    expect(poll).to.include({ checked: 0, tooLarge: 1, taken: 0 });
    expect(await contents(mailbox)).to.deep.equal([{ uid: big, flags: [], messageId: '<report-1@mx.patron.example>' }]);
  });

  it('says so when the password is wrong, touching nothing', async () => {
    const mailbox = await freshMailbox();
    let error: unknown = null;
    await pollBounceMailbox(options(mailbox, classifier([]), { password: 'wrong', timeoutMs: 5000 })).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(Error);
  });
});
