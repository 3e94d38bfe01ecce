/**
 * Bounces by the other two ways in: the bounce mailbox polled over IMAP (a
 * real Dovecot started by the test), with unrelated mail left untouched, and
 * `kmc bounces process FILE...`; and the counting of soft bounces.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { deliveryStatusReport, ordinaryMail, outOfOffice } from '../support/bounce-reports';
import { startDovecot, type TestImapServer } from '../support/dovecot';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { bouncesProcessCommand } from '../../sidecar/bounces';
import { AddressStateStore } from '../../sidecar/address-states';

const ASA = 'asa.oberg@example.org';
const JOBS_BY_HAND = { delivery: false, routines: false, verificationScan: false, anonymiser: false };

describe(`bounces from the mailbox and from saved files (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let relay: MailCapture;
  let clock: TestClock;

  beforeEach(async () => {
    db = await createKohaDatabase('bouncebox');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    relay = new MailCapture();
    await relay.start();
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
  });

  afterEach(async () => {
    await relay.stop();
    await db.drop();
  });

  async function sendAsaHerNotice(kmc: ReturnType<typeof testServices>) {
    await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    await kmc.worker.deliverOnce();
    const stored = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa, channel: 'email' }).first();
    const mail = relay.messages.find((m) => m.envelopeTo.includes(ASA))!;
    return { stored, mail };
  }

  describe('the bounce mailbox (IMAP, a real Dovecot)', () => {
    let imap: TestImapServer;
    before(async () => {
      imap = await startDovecot();
    });
    after(async () => {
      await imap.stop();
    });

    it('takes the bounce (bounced, undeliverable, a letter instead) and leaves unrelated mail exactly as it was', async () => {
      // No bounce domain: the return path is a plus-tag on the branch's sender, delivered to the branch's mailbox.
      const url = `imap://${imap.user}:${imap.password}@${imap.host}:${String(imap.port)}/INBOX`;
      const kmc = testServices(
        testSettings(db.url, { KMC_SMTP_URL: relay.url, KMC_BOUNCE_IMAP_URL: url, KMC_BOUNCE_POLL_SECONDS: '3600' }),
        clock,
        {
          jobs: JOBS_BY_HAND,
        },
      );
      const client = new ImapFlow({
        host: imap.host,
        port: imap.port,
        secure: false,
        auth: { user: imap.user, pass: imap.password },
        logger: false,
      });
      await client.connect();
      try {
        await kmc.startChannels();
        const { stored, mail } = await sendAsaHerNotice(kmc);
        expect(mail.envelopeFrom).to.match(/^central\+bounce-\d+\.[a-z2-7]{8}@bibliotek\.example\.org$/);
        const sender = 'central@bibliotek.example.org';
        const colleague = await client.append('INBOX', ordinaryMail(sender, 'Book sale', 'u1@bibliotek.example.org'));
        const flagged = await client.append('INBOX', ordinaryMail(sender, 'Staff meeting', 'u2@bibliotek.example.org'), ['\\Flagged']);
        await client.append(
          'INBOX',
          deliveryStatusReport({ to: mail.envelopeFrom, deliveredTo: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw }),
        );
        await kmc.start();
        const poll = await kmc.bounceMailbox()!.pollNow();
        expect(poll).to.not.equal(null);

        const rows = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).orderBy('id');
        expect(rows.map((r) => [r.channel, r.status])).to.deep.equal([
          ['email', 'bounced'],
          ['print', 'pending'],
        ]);
        expect(rows[0].id).to.equal(stored.id);
        expect(await db.knex('kmc_address_states').where({ borrowernumber: lib.patrons.asa }).first()).to.include({
          state: 'undeliverable',
        });
        const last = await db.knex('kmc_message_events').where({ message_id: stored.id, status: 'bounced' }).first();
        expect(last.actor).to.equal('bounce mailbox');

        // The two unrelated mails: still there, unread, their flags as they were; the bounce is marked taken.
        const lock = await client.getMailboxLock('INBOX');
        try {
          const flags = new Map<number, string[]>();
          for await (const m of client.fetch('1:*', { uid: true, flags: true }))
            flags.set(m.uid, [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort());
          expect(flags.get(colleague ? (colleague.uid ?? 0) : 0)).to.deep.equal([]);
          expect(flags.get(flagged ? (flagged.uid ?? 0) : 0)).to.deep.equal(['\\Flagged']);
          expect([...flags.values()].filter((f) => f.includes('KmcBounce'))).to.have.length(1);
        } finally {
          lock.release();
        }
      } finally {
        await client.logout().catch(() => undefined);
        await kmc.stop();
      }
    });
  });

  it('kmc bounces process feeds saved files in the same way, with a summary; an auto-reply changes nothing', async () => {
    const kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: relay.url }), clock, { jobs: JOBS_BY_HAND });
    try {
      await kmc.startChannels();
      const { stored, mail } = await sendAsaHerNotice(kmc);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-bounces-'));
      const files = {
        ooo: path.join(dir, 'ooo.eml'),
        dsn: path.join(dir, 'dsn.eml'),
        missing: path.join(dir, 'missing.eml'),
      };
      writeFileSync(files.ooo, outOfOffice(mail.envelopeFrom));
      writeFileSync(files.dsn, deliveryStatusReport({ to: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw }));
      const lines: string[] = [];
      const out = { stdout: (l: string) => lines.push(l), stderr: (l: string) => lines.push(l) };
      const code = await bouncesProcessCommand([files.ooo, files.dsn, files.missing], { json: true }, kmc.bounces, out);
      expect(code).to.equal(1);
      const [ooo, dsn, missing, summary] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(ooo).to.include({ kind: 'autoreply', effect: 'ignored' });
      expect(dsn).to.include({ kind: 'hard', effect: 'recorded', messageId: stored.id, status: 'bounced', addressState: 'undeliverable' });
      expect(dsn.replacement).to.include({ outcome: 'replaced', channel: 'print' });
      expect(missing.error).to.contain('no such file');
      expect(summary.summary).to.deep.equal({
        files: 3,
        recorded: 1,
        ignored: 1,
        forged: 0,
        noTag: 0,
        unknownMessage: 0,
        replaced: 1,
        failed: 1,
      });
    } finally {
      await kmc.stop();
    }
  });

  it('soft bounces make an address undeliverable at the third within 30 days; older ones and those before a clearing do not count', async () => {
    const store = new AddressStateStore(db.knex, { count: 3, windowDays: 30 });
    const day = (n: number) => new Date(Date.UTC(2026, 9, 1 + n, 12));
    const soft = (n: number, address = ASA) =>
      store.recordBounce({
        messageId: 100 + n,
        borrowernumber: lib.patrons.asa,
        address,
        kind: 'soft',
        status: '4.2.2',
        reason: 'mailboxfull',
        diagnostic: 'Mailbox full',
        at: day(n),
      });
    expect((await soft(0)).after).to.equal('usable');
    expect((await soft(10)).after).to.equal('usable');
    // Day 35: the first one is out of the window, so only two count.
    expect(await soft(35)).to.deep.equal({ before: 'usable', after: 'usable', softCount: 2 });
    expect(await soft(36)).to.deep.equal({ before: 'usable', after: 'undeliverable', softCount: 3 });
    const [state] = await store.forPatron(lib.patrons.asa);
    expect(state.reason).to.contain('3 soft bounces within 30 days');

    // Staff clear it: the earlier soft bounces no longer count.
    expect(await store.clear(lib.patrons.asa, ASA, 51, day(37))).to.equal(true);
    expect((await store.check([{ borrowernumber: lib.patrons.asa, email: ASA }])).size).to.equal(0);
    expect(await soft(38)).to.deep.equal({ before: 'usable', after: 'usable', softCount: 1 });
    // Soft bounces of another address of hers are counted apart.
    expect((await soft(38, 'asa.work@example.org')).softCount).to.equal(1);
  });
});
