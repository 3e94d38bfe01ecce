/**
 * What a bounce does, end to end with real servers on loopback: the sidecar
 * sends an overdue notice through a capture SMTP relay (an smtp-server that
 * answers 250), the patron's mail server then sends a genuine RFC 3464 report
 * to the notice's VERP return path at the sidecar's own bounce listener, and
 * the notice ends `bounced`, the address undeliverable and a letter made in
 * its place. An auto-reply and a forged return path change nothing.
 */
import { expect } from 'chai';
import { createTransport } from 'nodemailer';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { deliveryStatusReport, outOfOffice } from '../support/bounce-reports';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { verpReturnPath } from '../../sidecar/bounces';

const BOUNCE_DOMAIN = 'bounce.bibliotek.example.org';
const ASA = 'asa.oberg@example.org';

/** The patron's mail server sending a report to the return path: null sender, no sign-in. */
async function sendToListener(port: number, to: string, raw: string): Promise<void> {
  const transport = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5000 });
  try {
    await transport.sendMail({ envelope: { from: '', to: [to] }, raw });
  } finally {
    transport.close();
  }
}

describe(`a bounce comes back to its notice (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let relay: MailCapture;
  let clock: TestClock;
  let kmc: ReturnType<typeof testServices>;

  beforeEach(async () => {
    db = await createKohaDatabase('bounces');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    relay = new MailCapture();
    await relay.start();
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
    kmc = testServices(
      testSettings(db.url, { KMC_SMTP_URL: relay.url, KMC_BOUNCE_DOMAIN: BOUNCE_DOMAIN, KMC_BOUNCE_LISTEN: '127.0.0.1:0' }),
      clock,
      { jobs: { delivery: false, routines: false, verificationScan: false, anonymiser: false } },
    );
    await kmc.start();
  });

  afterEach(async () => {
    await kmc.stop();
    await relay.stop();
    await db.drop();
  });

  /** Runs the overdue notices and delivers them; answers Åsa's notice as stored and as the relay got it. */
  async function sendAsaHerNotice() {
    await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    await kmc.worker.deliverOnce();
    const stored = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa, channel: 'email' }).first();
    expect(stored.status).to.equal('sent');
    const mail = relay.messages.find((m) => m.envelopeTo.includes(ASA));
    expect(mail, 'the relay got the notice').to.not.equal(undefined);
    return { stored, mail: mail! };
  }

  const listenerPort = () => {
    const listener = kmc.bounceListener();
    if (!listener) throw new Error('the bounce listener did not start');
    return listener.port;
  };
  const messagesOf = (borrowernumber: number) => db.knex('kmc_messages').where({ borrowernumber }).orderBy('id');

  it('an overdue notice to a mailbox that does not exist ends bounced, the address undeliverable, and a letter goes instead', async () => {
    const { stored, mail } = await sendAsaHerNotice();
    // The notice went out with its own return path at the bounce domain; the From stays the branch's.
    const returnPath = verpReturnPath(stored.id, { secret: kmc.settings.secret, bounceDomain: BOUNCE_DOMAIN, senderAddress: 'x@y.z' });
    expect(mail.envelopeFrom).to.equal(returnPath);
    expect(mail.parsed.from?.value[0].address).to.equal('central@bibliotek.example.org');

    await sendToListener(
      listenerPort(),
      mail.envelopeFrom,
      deliveryStatusReport({ to: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw, messageId: 'dsn-1@mx.example.org' }),
    );

    const [bounced, letter] = await messagesOf(lib.patrons.asa);
    expect(bounced.id).to.equal(stored.id);
    expect(bounced.status).to.equal('bounced');
    expect(bounced.status_reason).to.contain('EMAIL_BOUNCED').and.contain('5.1.1');
    const history = await db.knex('kmc_message_events').where({ message_id: stored.id }).orderBy('id').select('status', 'detail', 'actor');
    const bounceLine = history.find((e) => e.status === 'bounced');
    expect(bounceLine.detail).to.contain('hard bounce 5.1.1').and.contain('User unknown');
    expect(bounceLine.actor).to.equal('bounce listener');
    expect(history.at(-1).detail).to.equal(`sent again by print as message ${String(letter.id)}`);

    const state = await db.knex('kmc_address_states').where({ borrowernumber: lib.patrons.asa }).first();
    expect(state).to.include({ address: ASA, state: 'undeliverable' });
    expect(state.reason).to.contain('hard bounce');

    // The replacement: a letter at once, covering the same loans, its history naming the bounced notice.
    expect(letter).to.include({ channel: 'print', status: 'pending', message_type: 'overdue', level: bounced.level });
    expect(letter.status_reason).to.contain(`instead of message ${String(stored.id)}, which bounced`);
    const loans = (ids: number) => db.knex('kmc_message_items').where({ message_id: ids }).orderBy('issue_id').pluck('issue_id');
    expect(await loans(letter.id)).to.deep.equal(await loans(stored.id));
    expect(await db.knex('kmc_queue_handled').where({ message_id: stored.id }).first()).to.include({ how: 'resent' });
    const delivered = await kmc.worker.deliverOnce();
    expect(delivered.sent).to.equal(1);
    // The replacement letter waits for staff to print it.
    expect((await db.knex('kmc_messages').where({ id: letter.id }).first()).status).to.equal('to_print');

    // From now on her address counts as missing: the gate says so, until the address in Koha changes.
    const gate = kmc.notices.emailGate!;
    expect((await gate.check([{ borrowernumber: lib.patrons.asa, email: ASA }])).get(lib.patrons.asa)).to.equal('undeliverable');
    expect((await gate.check([{ borrowernumber: lib.patrons.asa, email: 'asa.ny@example.org' }])).has(lib.patrons.asa)).to.equal(false);

    // The same report again (a relay retrying) adds to the history and makes no second letter.
    await sendToListener(
      listenerPort(),
      mail.envelopeFrom,
      deliveryStatusReport({ to: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw }),
    );
    expect(await messagesOf(lib.patrons.asa)).to.have.length(2);
  });

  it('the next run sends an undeliverable address a letter, and a fresh address in Koha gets e-mail again', async () => {
    const { mail } = await sendAsaHerNotice();
    await sendToListener(
      listenerPort(),
      mail.envelopeFrom,
      deliveryStatusReport({ to: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw }),
    );
    // Her third loan reaches the delay three days on: the new notice finds no usable e-mail address.
    await runNotices(kmc.notices, { type: 'overdue', date: '2026-11-27', startedBy: 'test' });
    const newest = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).orderBy('id', 'desc').first();
    expect(newest.channel).to.equal('print');
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ email: 'asa.ny@example.org' });
    await db.knex('kmc_messages').where({ id: newest.id }).delete();
    await runNotices(kmc.notices, { type: 'overdue', date: '2026-11-27', startedBy: 'test' });
    const again = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).orderBy('id', 'desc').first();
    expect(again).to.include({ channel: 'email', to_address: 'asa.ny@example.org' });
  });

  it('a bounce of a notice whose loans are all back makes no replacement', async () => {
    const { stored, mail } = await sendAsaHerNotice();
    const issueIds = await db.knex('kmc_message_items').where({ message_id: stored.id }).pluck('issue_id');
    await db.knex('issues').whereIn('issue_id', issueIds).delete();
    await sendToListener(
      listenerPort(),
      mail.envelopeFrom,
      deliveryStatusReport({ to: mail.envelopeFrom, finalRecipient: ASA, returned: mail.raw }),
    );
    const rows = await messagesOf(lib.patrons.asa);
    expect(rows.map((r) => [r.channel, r.status])).to.deep.equal([['email', 'bounced']]);
    const last = await db.knex('kmc_message_events').where({ message_id: stored.id }).orderBy('id', 'desc').first();
    expect(last.detail).to.equal('not replaced: its loans have all been returned');
  });

  it('an auto-reply to the same return path changes nothing', async () => {
    const { stored, mail } = await sendAsaHerNotice();
    const eventsBefore = await db.knex('kmc_message_events').where({ message_id: stored.id }).count({ n: '*' }).first();
    await sendToListener(listenerPort(), mail.envelopeFrom, outOfOffice(mail.envelopeFrom));
    expect((await db.knex('kmc_messages').where({ id: stored.id }).first()).status).to.equal('sent');
    expect(await messagesOf(lib.patrons.asa)).to.have.length(1);
    expect(await db.knex('kmc_message_events').where({ message_id: stored.id }).count({ n: '*' }).first()).to.deep.equal(eventsBefore);
    expect(await db.knex('kmc_address_states').select()).to.deep.equal([]);
    expect(await db.knex('kmc_bounces').select()).to.deep.equal([]);
  });

  it('a bounce with a forged VERP signature changes nothing', async () => {
    const { stored, mail } = await sendAsaHerNotice();
    const forged = mail.envelopeFrom.replace(/\.([a-z2-7]{8})@/, (_m, sig: string) => `.${sig[0] === 'a' ? 'b' : 'a'}${sig.slice(1)}@`);
    expect(forged).to.not.equal(mail.envelopeFrom);
    await sendToListener(
      listenerPort(),
      forged,
      deliveryStatusReport({ to: forged, finalRecipient: ASA, returned: mail.raw.replace(mail.envelopeFrom, forged) }),
    );
    expect((await db.knex('kmc_messages').where({ id: stored.id }).first()).status).to.equal('sent');
    expect(await messagesOf(lib.patrons.asa)).to.have.length(1);
    expect(await db.knex('kmc_address_states').select()).to.deep.equal([]);
    expect(await db.knex('kmc_bounces').select()).to.deep.equal([]);
    expect(kmc.logs.lines.some((l) => l.event === 'bounces.forged_tag')).to.equal(true);
  });
});
