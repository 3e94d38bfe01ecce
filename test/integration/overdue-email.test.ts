import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { fromDbTime, migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';
import { verpReturnPath } from '../../sidecar/bounces';

describe(`overdue notices by e-mail, end to end (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  let clock: TestClock;
  let kmc: App;

  beforeEach(async () => {
    db = await createKohaDatabase('overdue');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
    clock = new TestClock(new Date('2026-11-24T05:00:00Z'));
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url }), clock, {
      retryPolicy: { maxAttempts: { email: 3, sms: 3, print: 3 }, baseMs: 60_000, maxMs: 3_600_000, jitter: 0.25 },
    });
    await kmc.startChannels();
  });

  afterEach(async () => {
    await kmc.close();
    await smtp.stop();
    await db.drop();
  });

  const run = (date = RUN_DAY) => runNotices(kmc.notices, { type: 'overdue', date, startedBy: 'test' });

  it('makes one level-1 message per patron with exactly the loans overdue by the rule delay', async () => {
    const result = await run();
    expect(result.created).to.equal(4);
    expect(result.byChannel).to.deep.equal({ email: 2, print: 2 });
    expect(result.byStatus).to.deep.equal({ pending: 4 });

    const messages = await db.knex('kmc_messages').orderBy('borrowernumber');
    const byPatron = new Map(messages.map((m) => [m.borrowernumber, m]));
    expect([...byPatron.keys()].sort()).to.deep.equal([lib.patrons.asa, lib.patrons.jurgen, lib.patrons.soren, lib.patrons.anna].sort());

    const items = await db.knex('kmc_message_items').select('message_id', 'issue_id', 'title', 'author', 'barcode', 'date_due');
    const coveredBy = (borrower: number) =>
      items
        .filter((i) => i.message_id === byPatron.get(borrower).id)
        .map((i) => i.issue_id)
        .sort();
    expect(coveredBy(lib.patrons.asa)).to.deep.equal([lib.loans.asaOld, lib.loans.asaMid].sort());
    expect(coveredBy(lib.patrons.jurgen)).to.deep.equal([lib.loans.jurgenExact]);
    expect(coveredBy(lib.patrons.soren)).to.deep.equal([lib.loans.sorenOld]);
    expect(coveredBy(lib.patrons.anna)).to.deep.equal([lib.loans.annaOld]);

    const asa = byPatron.get(lib.patrons.asa);
    expect(asa.channel).to.equal('email');
    expect(asa.to_address).to.equal('asa.oberg@example.org');
    expect(asa.from_address).to.equal('Centralbiblioteket <central@bibliotek.example.org>');
    expect(asa.lang).to.equal('sv');
    expect(asa.body_text).to.contain('Röda rummet').and.contain('Strindberg, August').and.contain('2026-11-10');
    expect(asa.body_text).to.contain('Gösta Berlings saga').and.contain('2026-11-15');
    expect(asa.body_text).not.to.contain('Hemsöborna');
    const asaItem = items.find((i) => i.issue_id === lib.loans.asaOld);
    expect(asaItem.date_due).to.equal('2026-11-10 23:59:00');
    expect(asaItem.barcode).to.be.a('string').and.not.empty;

    const jurgen = byPatron.get(lib.patrons.jurgen);
    expect(jurgen.from_address).to.equal('Stadtbibliothek am Hafen <hafen@stadtbibliothek.example.net>');
    expect(jurgen.lang).to.equal('de');
    expect(jurgen.body_text).to.contain('Der Zauberberg').and.contain('Mit freundlichen Grüßen');

    // No usable e-mail: a letter instead; a malformed address counts as none.
    expect(byPatron.get(lib.patrons.soren).channel).to.equal('print');
    expect(byPatron.get(lib.patrons.anna).channel).to.equal('print');
    expect(byPatron.get(lib.patrons.anna).to_address).to.contain('Parkvägen 9');
    // Åsa's 4-day-old loan is below every rule's delay, so the query never selects it.
    expect(result.skippedBy).to.deep.equal({ category_gets_no_overdue_notices: 1 });
  });

  it('never makes a second level-1 notice for the same loans, the same day or later', async () => {
    await run();
    const again = await run();
    expect(again.created).to.equal(0);
    expect(again.skippedBy.already_notified).to.equal(5);
    const nextDay = await run('2026-11-25');
    expect(nextDay.created).to.equal(0);
    expect(await db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 4 });

    // Three days on, Åsa's third loan reaches the delay: a new message covering only it.
    const later = await run('2026-11-27');
    expect(later.created).to.equal(1);
    const newest = await db.knex('kmc_messages').orderBy('id', 'desc').first();
    const covered = await db.knex('kmc_message_items').where({ message_id: newest.id }).pluck('issue_id');
    expect(covered).to.deep.equal([lib.loans.asaRecent]);
  });

  it('a dry run reports what it would make and stores nothing', async () => {
    const dry = await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, dryRun: true, startedBy: 'test' });
    expect(dry.created).to.equal(4);
    expect(await db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('two runs at once store each notice once', async () => {
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.created + b.created).to.equal(4);
    expect(await db.knex('kmc_messages').count({ n: '*' }).first()).to.deep.equal({ n: 4 });
  });

  it('delivers the e-mails from the patron branch with text and HTML parts, and writes the letters', async () => {
    await run();
    const stats = await kmc.worker.deliverOnce();
    expect(stats).to.include({ sent: 4, failed: 0, retried: 0 });
    expect(smtp.messages).to.have.length(2);

    const toAsa = smtp.messages.find((m) => m.envelopeTo.includes('asa.oberg@example.org'))!;
    const stored = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first();
    // The envelope sender is the notice's own return path (VERP, a plus-tag on the branch's sender); the From stays the branch's.
    expect(toAsa.envelopeFrom).to.equal(
      verpReturnPath(stored.id, { secret: kmc.settings.secret, senderAddress: 'central@bibliotek.example.org' }),
    );
    expect(toAsa.envelopeFrom).to.match(/^central\+bounce-\d+\.[a-z2-7]{8}@bibliotek\.example\.org$/);
    expect(toAsa.parsed.from?.value[0].address).to.equal('central@bibliotek.example.org');
    expect(toAsa.parsed.subject).to.contain('Centralbiblioteket');
    expect(toAsa.parsed.text).to.contain('Hej Åsa Öberg').and.contain('Röda rummet');
    expect(toAsa.parsed.html).to.be.a('string').and.contain('Röda rummet');
    expect(stored.status).to.equal('sent');
    expect(stored.message_id_header).to.equal(toAsa.parsed.messageId);
    expect(stored.last_reply).to.match(/^250/);
    expect(stored.first_sent_at).to.be.a('string');

    // The malformed address was never tried over SMTP.
    expect(smtp.messages.flatMap((m) => m.envelopeTo)).not.to.include('anna.lund@@example');
    const letter = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.anna }).first();
    // Written to the print folder's PDF, the letter waits for staff to print it.
    expect(letter.status).to.equal('to_print');
    expect(letter.last_reply).to.contain('letter added to');

    const events = await db.knex('kmc_message_events').where({ message_id: stored.id }).orderBy('id').pluck('status');
    expect(events).to.deep.equal(['pending', 'sending', 'sent']);
  });

  it('a 451 answer is retried later with backoff, then succeeds', async () => {
    let refusals = 1;
    smtp.respond = () => (refusals-- > 0 ? { action: 'reply', code: 451, message: 'Try again later' } : { action: 'accept' });
    await db.knex('kmc_rules').where({ is_baseline: 1 }).update({ channels: 'email' });
    await db.knex('borrowers').whereNot({ borrowernumber: lib.patrons.jurgen }).update({ email: null });
    await run();

    const first = await kmc.worker.deliverOnce();
    expect(first).to.include({ sent: 0, retried: 1 });
    const waiting = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.jurgen }).first();
    expect(waiting.status).to.equal('pending');
    expect(waiting.last_reply).to.contain('451');
    expect(fromDbTime(waiting.next_attempt_at)!.getTime() - clock.now().getTime()).to.be.within(45_000, 75_000);

    // Not yet due again: nothing is tried.
    expect(await kmc.worker.deliverOnce()).to.include({ claimed: 0 });
    clock.advance(2 * 60_000);
    const second = await kmc.worker.deliverOnce();
    expect(second).to.include({ sent: 1 });
    expect(smtp.messages).to.have.length(1);
    const done = await db.knex('kmc_messages').where({ id: waiting.id }).first();
    expect(done.status).to.equal('sent');
    expect(done.attempts).to.equal(2);
  });

  it('a 550 answer fails the message for good, with the reply kept', async () => {
    smtp.respond = ({ to }) =>
      to.includes('asa.oberg@example.org') ? { action: 'reply', code: 550, message: 'No such user here' } : { action: 'accept' };
    await run();
    const stats = await kmc.worker.deliverOnce();
    expect(stats).to.include({ failed: 1, sent: 3 });
    const asa = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first();
    expect(asa.status).to.equal('failed');
    expect(asa.status_reason).to.contain('SMTP_550');
    expect(asa.last_reply).to.contain('550').and.contain('No such user here');
    clock.advance(24 * 3600_000);
    expect(await kmc.worker.deliverOnce()).to.include({ claimed: 0 });
  });

  it('a dropped connection is retried, and the retry budget ends in failed with the last reason', async () => {
    smtp.respond = () => ({ action: 'drop' });
    await db.knex('kmc_rules').where({ is_baseline: 1 }).update({ channels: 'email' });
    await db.knex('borrowers').whereNot({ borrowernumber: lib.patrons.jurgen }).update({ email: null });
    await run();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      await kmc.worker.deliverOnce();
      clock.advance(3 * 3600_000);
    }
    const m = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.jurgen }).first();
    expect(m.status).to.equal('failed');
    expect(m.attempts).to.equal(3);
    expect(m.status_reason).to.contain('retry budget of 3 attempts spent');
    expect(smtp.messages).to.have.length(0);
  });

  it('with letters not allowed, a patron without e-mail gets missing_contact with the reason', async () => {
    await db.knex('kmc_rules').where({ is_baseline: 1 }).update({ channels: 'email' });
    const result = await run();
    expect(result.byStatus).to.deep.equal({ pending: 2, missing_contact: 2 });
    const soren = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.soren }).first();
    expect(soren.status).to.equal('missing_contact');
    expect(soren.status_reason).to.equal('email: no e-mail address; print: letters not allowed by the rule');
    const anna = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.anna }).first();
    expect(anna.status_reason).to.contain('e-mail address is not valid');
    // missing_contact is never claimed for sending.
    const stats = await kmc.worker.deliverOnce();
    expect(stats.sent).to.equal(2);
    expect(smtp.messages).to.have.length(2);
  });

  it('an address waiting for verification holds the e-mail; an expired one falls to the next channel', async () => {
    kmc.notices.emailGate = {
      check(patrons) {
        const states = new Map<number, 'held' | 'expired'>();
        for (const p of patrons) {
          if (p.borrowernumber === lib.patrons.asa) states.set(p.borrowernumber, 'held');
          if (p.borrowernumber === lib.patrons.jurgen) states.set(p.borrowernumber, 'expired');
        }
        return Promise.resolve(states);
      },
    };
    const result = await run();
    expect(result.byStatus).to.deep.equal({ held: 1, pending: 3 });
    const asa = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa }).first();
    expect(asa).to.include({ channel: 'email', status: 'held', status_reason: 'waiting for the patron to verify the e-mail address' });
    const jurgen = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.jurgen }).first();
    expect(jurgen.channel).to.equal('print');
    // Held messages are not delivered.
    const stats = await kmc.worker.deliverOnce();
    expect(stats).to.include({ sent: 3, held: 1 });
    expect(smtp.messages).to.have.length(0);
  });

  it('does nothing while the plugin is switched off in Koha', async () => {
    await lib.builder.pluginData(kmc.settings.pluginClass, '__ENABLED__', '0');
    const result = await run();
    expect(result.notRun).to.equal('disabled');
    expect(result.created).to.equal(0);
    await db.knex('plugin_data').where({ plugin_key: '__ENABLED__' }).update({ plugin_value: '1' });
    await run();
    await db.knex('plugin_data').where({ plugin_key: '__ENABLED__' }).update({ plugin_value: '0' });
    const stats = await kmc.worker.deliverOnce();
    expect(stats.disabled).to.equal(true);
    expect(stats.sent).to.equal(0);
    expect(smtp.messages).to.have.length(0);
  });
});
