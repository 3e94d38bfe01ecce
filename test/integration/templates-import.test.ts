/**
 * `kmc templates import-koha` as an admin runs it: a library's own letters in
 * Koha's `letter` table (both of Koha's syntaxes, written the way Koha's
 * sample notices and libraries write them) become the sidecar's templates;
 * each is rendered beside what Koha's syntax means; what could not be
 * converted is reported with its line and why; a second run changes nothing;
 * a template staff edited here is kept.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { cliKind, runKmc } from '../support/cli';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { KohaBuilder } from '../../sidecar/fixture';
import type { App } from '../../sidecar/main';
import { emailDocument } from '../../sidecar/rendering';

interface Letter {
  module: string;
  code: string;
  branchcode?: string;
  message_transport_type?: string;
  lang?: string;
  is_html?: number;
  title: string;
  content: string;
}

const LETTERS: Letter[] = [
  // 1. The older syntax, Swedish, with an item block repeated per overdue item.
  {
    module: 'circulation',
    code: 'ODUE',
    lang: 'sv-SE',
    title: 'Påminnelse: försenade lån',
    content: [
      'Hej <<borrowers.firstname>> <<borrowers.surname>>!',
      '',
      'Enligt våra noteringar har du lån som skulle ha lämnats tillbaka:',
      '',
      '<item><<biblio.title>> / <<biblio.author>> (streckkod <<items.barcode>>), åter senast <<issues.date_due>></item>',
      '',
      'Lämna tillbaka eller låna om dem snarast.',
      '<<branches.branchname>>, tel. <<branches.branchphone>>',
    ].join('\n'),
  },
  // 2. Template Toolkit, Swedish: the second level of the same notice.
  {
    module: 'circulation',
    code: 'ODUE2',
    lang: 'sv-SE',
    title: 'Andra påminnelsen',
    content: [
      '[%- USE KohaDates -%]',
      'Hej [% borrower.firstname %]!',
      '',
      '[% IF overdues.size == 1 %]Ett lån är[% ELSE %][% overdues.size %] lån är[% END %] fortfarande försenade:',
      '[% FOREACH overdue IN overdues -%]',
      '* [% overdue.item.biblio.title | html %], åter [% overdue.date_due | $KohaDates %]',
      '[% END -%]',
      '[% branch.branchname %]',
    ].join('\n'),
  },
  // 3. An SMS in the older syntax.
  {
    module: 'circulation',
    code: 'ODUE',
    message_transport_type: 'sms',
    title: 'Overdue',
    content: '<<branches.branchname>>: you have <<count>> overdue item(s). Card <<borrowers.cardnumber>>.',
  },
  // 4. A printed final notice with pieces that have no counterpart here.
  {
    module: 'circulation',
    code: 'ODUE3',
    message_transport_type: 'print',
    title: 'Final notice',
    content: [
      '<<borrowers.firstname>> <<borrowers.surname>>',
      'FINAL NOTICE',
      '<item><<biblio.title>> <<items.barcode>> fine <<items.fine>></item>',
      "[% INCLUDE 'letter-footer.inc' %]",
      '<<branches.branchname>>',
    ].join('\n'),
  },
  // 5. The pre-due digest in Template Toolkit.
  {
    module: 'circulation',
    code: 'PREDUEDGST',
    title: 'Due soon: [% checkouts.size %] item(s)',
    content: [
      'Hello [% borrower.firstname %],',
      '',
      '[% FOREACH checkout IN checkouts -%]',
      '[% loop.count %]. [% checkout.item.biblio.title %] ([% checkout.item.barcode %]) due [% checkout.date_due | $KohaDates %]',
      '[% END -%]',
      '',
      '[% branch.branchname %]',
    ].join('\n'),
  },
  // 6. The due-day notice for one item, older syntax.
  {
    module: 'circulation',
    code: 'DUE',
    title: 'Item due today',
    content: 'Dear <<borrowers.firstname>>,\n\n<<biblio.title>> (<<items.barcode>>) is due today.\n\n<<branches.branchname>>',
  },
  // 7. Hold waiting, older syntax, one branch's own letter.
  {
    module: 'reserves',
    code: 'HOLD',
    branchcode: 'CPL',
    title: 'Your hold is waiting at <<branches.branchname>>',
    content: [
      'Dear <<borrowers.firstname>> <<borrowers.surname>>,',
      '',
      '<<biblio.title>> by <<biblio.author>> is waiting for you since <<reserves.waitingdate>>.',
      'Please collect it by <<reserves.expirationdate>>.',
    ].join('\n'),
  },
  // 8. Hold reminder in Template Toolkit.
  {
    module: 'reserves',
    code: 'HOLD_REMINDER',
    title: 'Holds still waiting',
    content: [
      'Dear [% borrower.firstname %],',
      '',
      '[% FOREACH hold IN holds %]- [% hold.biblio.title %], waiting since [% hold.waitingdate | $KohaDates %]',
      '[% END %]',
      'Collect them at [% branch.branchname %].',
    ].join('\n'),
  },
  // 9. Welcome, HTML e-mail in Template Toolkit, with a call into Koha that has no counterpart (its ELSE stays).
  {
    module: 'members',
    code: 'WELCOME',
    is_html: 1,
    title: 'Welcome, [% borrower.firstname %]',
    content: [
      '[% USE Koha %]',
      '<p>Welcome [% borrower.firstname | html %] [% borrower.surname | html %]!</p>',
      "<p>[% IF Koha.Preference('OPACBaseURL') %]Log in at [% Koha.Preference('OPACBaseURL') %].[% ELSE %]Ask us for your PIN.[% END %]</p>",
      '<p>Card: <b>[% borrower.cardnumber %]</b></p>',
    ].join('\n'),
  },
  // 10. A transport the sidecar does not send: reported, not converted.
  { module: 'reserves', code: 'HOLD', message_transport_type: 'phone', title: 'Hold', content: 'Your hold is waiting.' },
];

const patron = {
  borrowernumber: '7',
  cardnumber: '23529000651225',
  firstname: 'Åsa',
  surname: 'Öberg',
  title: '',
  email: 'asa@example.org',
};
const branch = { code: 'CPL', name: 'Centralbiblioteket', email: 'cpl@example.org', phone: '08-123 45', address: 'Storgatan 1' };
const roda = { title: 'Röda rummet', author: 'Strindberg, August', barcode: '39000001', callnumber: 'Hc', due: '2026-11-10' };
const gosta = { title: 'Gösta Berlings saga', author: 'Lagerlöf, Selma', barcode: '39000002', callnumber: 'Hc', due: '2026-11-15' };
const base = { patron, branch, address: '', level: 1, fee: 0, fee_text: '0.00', today: '2026-11-24', message: '', days_left: 3 };
const held = { ...roda, pickup_by: '2026-12-01', pickup_by_day: '2026-12-01', waiting_since: '2026-11-24' };

describe(`kmc templates import-koha (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(120_000);
  let db: KohaDatabase;
  let env: Record<string, string>;
  let app: App;

  before(async () => {
    db = await createKohaDatabase('tplimport');
    await migrate(db.knex);
    await new KohaBuilder(db.knex).ensureMessageTransportTypes();
    await db.knex('letter').insert(
      LETTERS.map((l) => ({
        branchcode: '',
        message_transport_type: 'email',
        lang: 'default',
        is_html: 0,
        name: l.code,
        ...l,
      })),
    );
    env = { KMC_DATABASE_URL: db.url, KMC_LOG_LEVEL: 'error' };
    app = testServices(testSettings(db.url), new TestClock(new Date('2026-11-24T07:00:00Z')));
  });

  after(async () => {
    await app.close();
    await db.drop();
  });

  const render = async (
    type: string,
    channel: 'email' | 'sms' | 'print',
    lang: string,
    data: Record<string, unknown>,
    branchcode: string | null = null,
  ) => {
    await app.renderer.refresh();
    return app.renderer.render({ type, channel, langs: [lang], branchcode, data });
  };

  it('imports the letters, reports per letter what it converted and, for what it could not, the line and why', async () => {
    const r = await runKmc(['templates', 'import-koha', '--default-lang', 'en'], env);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines).to.include.members([
      'circulation/ODUE (email, sv-SE, every branch): converted to overdue level 1 by e-mail (sv-SE, every branch)',
      'circulation/ODUE2 (email, sv-SE, every branch): converted to overdue level 2 by e-mail (sv-SE, every branch)',
      'circulation/ODUE3 (print, default, every branch): converted to overdue level 3 by letter (en, every branch), with 2 piece(s) left out',
      '  content line 3: <<items.fine>> left out: the sidecar keeps no fine per item; the fee of the whole notice is {{ fee_text }}',
      "  content line 4: [% INCLUDE 'letter-footer.inc' %] left out: [% INCLUDE %] reads another of Koha's templates, which the sidecar does not have",
      'members/WELCOME (email, default, every branch): converted to welcome by e-mail (en, every branch), with 1 piece(s) left out',
      'reserves/HOLD (phone, default, every branch): not converted: the sidecar sends no "phone" messages (only email, sms and print)',
      '10 letter(s): 7 converted, 2 partly converted, 1 not converted; templates: 7 to create, 0 to update, 0 unchanged, 0 kept as staff left them',
      'overdue email sv-SE: created',
      'hold_waiting email en CPL: created',
    ]);
    const rows = await db.knex('kmc_templates').orderBy(['message_type', 'channel', 'lang', 'branchcode']).select();
    expect(rows.map((t) => `${t.message_type}.${t.channel}.${t.lang}.${t.branchcode}`)).to.deep.equal([
      'hold_reminder.email.en.',
      'hold_waiting.email.en.CPL',
      'overdue.email.sv-SE.',
      'overdue.print.en.',
      'overdue.sms.en.',
      'predue.email.en.',
      'welcome.email.en.',
    ]);
    expect(rows.find((t) => t.message_type === 'predue').koha_letters).to.equal(
      'circulation/DUE (email, default, every branch), circulation/PREDUEDGST (email, default, every branch)',
    );
    // Koha's own table is read, never written.
    expect(await db.knex('letter').count({ n: '*' })).to.deep.equal([{ n: LETTERS.length }]);
  });

  it('renders each template as Koha would have written the letter', async () => {
    // ODUE, <item> block: Koha repeats the block per overdue item.
    const odue = await render('overdue', 'email', 'sv-SE', { ...base, items: [roda, gosta] });
    expect(odue.subject).to.equal('Påminnelse: försenade lån');
    expect(odue.text).to.equal(
      [
        'Hej Åsa Öberg!',
        '',
        'Enligt våra noteringar har du lån som skulle ha lämnats tillbaka:',
        '',
        'Röda rummet / Strindberg, August (streckkod 39000001), åter senast 2026-11-10',
        'Gösta Berlings saga / Lagerlöf, Selma (streckkod 39000002), åter senast 2026-11-15',
        '',
        'Lämna tillbaka eller låna om dem snarast.',
        'Centralbiblioteket, tel. 08-123 45',
        '',
      ].join('\n'),
    );
    // ODUE2, Template Toolkit: IF on the list's size, FOREACH with chomping, | html and $KohaDates dropped.
    const odue2 = await render('overdue', 'email', 'sv-SE', { ...base, level: 2, items: [roda, gosta] });
    expect(odue2.subject).to.equal('Andra påminnelsen');
    expect(odue2.text).to.equal(
      'Hej Åsa!\n\n2 lån är fortfarande försenade:\n* Röda rummet, åter 2026-11-10\n* Gösta Berlings saga, åter 2026-11-15\nCentralbiblioteket\n',
    );
    const one = await render('overdue', 'email', 'sv-SE', { ...base, level: 2, items: [gosta] });
    expect(one.text).to.contain('Ett lån är fortfarande försenade:\n* Gösta Berlings saga, åter 2026-11-15\n');
    // <<count>> in an SMS: the number of items.
    const sms = await render('overdue', 'sms', 'en', { ...base, items: [roda, gosta] });
    expect(sms.text).to.equal('Centralbiblioteket: you have 2 overdue item(s). Card 23529000651225.\n');
    // ODUE3 on paper: the pieces left out are empty, the rest as Koha writes it.
    const odue3 = await render('overdue', 'print', 'en', { ...base, level: 3, items: [roda, gosta] });
    expect(odue3.text).to.equal(
      'Åsa Öberg\nFINAL NOTICE\nRöda rummet 39000001 fine \nGösta Berlings saga 39000002 fine \n\nCentralbiblioteket\n',
    );
    // PREDUEDGST: loop.count numbers the list; DUE: the due-day letter about one item.
    const predue = await render('predue', 'email', 'en', { ...base, items: [roda, gosta] });
    expect(predue.subject).to.equal('Due soon: 2 item(s)');
    expect(predue.text).to.equal(
      'Hello Åsa,\n\n1. Röda rummet (39000001) due 2026-11-10\n2. Gösta Berlings saga (39000002) due 2026-11-15\n\nCentralbiblioteket\n',
    );
    const due = await render('predue', 'email', 'en', { ...base, days_left: 0, items: [gosta] });
    expect(due.subject).to.equal('Item due today');
    expect(due.text).to.equal('Dear Åsa,\n\nGösta Berlings saga (39000002) is due today.\n\nCentralbiblioteket\n');
    // HOLD for branch CPL: waiting date and last pickup day.
    const hold = await render(
      'hold_waiting',
      'email',
      'en',
      { ...base, items: [held], pickup_branch: 'Centralbiblioteket', last_pickup_day: '2026-12-01' },
      'CPL',
    );
    expect(hold.subject).to.equal('Your hold is waiting at Centralbiblioteket');
    expect(hold.text).to.equal(
      'Dear Åsa Öberg,\n\nRöda rummet by Strindberg, August is waiting for you since 2026-11-24.\nPlease collect it by 2026-12-01.\n',
    );
    const reminder = await render('hold_reminder', 'email', 'en', { ...base, items: [held, { ...held, title: 'Doktor Glas' }] });
    expect(reminder.text).to.equal(
      'Dear Åsa,\n\n- Röda rummet, waiting since 2026-11-24\n- Doktor Glas, waiting since 2026-11-24\n\nCollect them at Centralbiblioteket.\n',
    );
    // WELCOME in HTML: Koha.Preference has no counterpart, so its ELSE stays; values escaped by the sidecar.
    const welcome = await render('welcome', 'email', 'en', { ...base, items: [], patron: { ...patron, surname: 'Öberg <b>' } });
    expect(welcome.subject).to.equal('Welcome, Åsa');
    expect(welcome.text).to.equal('Welcome Åsa Öberg <b>!\n\nAsk us for your PIN.\n\nCard: 23529000651225\n');
    // The letter's body, in the layout every e-mail's HTML goes out in.
    expect(welcome.html).to.equal(
      emailDocument('\n<p>Welcome Åsa Öberg &lt;b&gt;!</p>\n<p>Ask us for your PIN.</p>\n<p>Card: <b>23529000651225</b></p>', {
        lang: 'en',
        title: 'Welcome, Åsa',
      }),
    );
  });

  it('a second run changes nothing', async () => {
    const before = await db.knex('kmc_templates').orderBy('id').select();
    const r = await runKmc(['templates', 'import-koha', '--default-lang', 'en', '--json'], env);
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.stdout) as { counts: Record<string, number>; templates: Array<{ done: string }> };
    expect(report.counts).to.include({ create: 0, update: 0, unchanged: 7, keep: 0, notConverted: 1 });
    expect(report.templates.map((t) => t.done)).to.deep.equal(Array(7).fill('unchanged'));
    expect(await db.knex('kmc_templates').orderBy('id').select()).to.deep.equal(before);
  });

  it('keeps a template staff edited here; brings one they did not edit up to date with Koha', async () => {
    await app.templates.save(
      { message_type: 'hold_reminder', channel: 'email', lang: 'en', branchcode: '' },
      { subject: 'Still waiting', body_text: 'Our own words, {{ patron.firstname }}.', body_html: null, updated_by: 7 },
    );
    await db.knex('letter').where({ code: 'HOLD_REMINDER' }).update({ title: 'Holds waiting (changed in Koha)' });
    await db.knex('letter').where({ code: 'ODUE', message_transport_type: 'sms' }).update({ title: 'x', content: 'Overdue: <<count>>.' });
    const r = await runKmc(['templates', 'import-koha', '--default-lang', 'en'], env);
    expect(r.code).to.equal(0);
    expect(r.stdout.split('\n')).to.include.members([
      'hold_reminder email en: keep (staff edited this template after it was imported; it is never overwritten) from reserves/HOLD_REMINDER (email, default, every branch)',
      'hold_reminder email en: kept as staff left it',
      'overdue sms en: updated',
    ]);
    const kept = await db.knex('kmc_templates').where({ message_type: 'hold_reminder' }).first();
    expect(kept).to.include({ subject: 'Still waiting', body_text: 'Our own words, {{ patron.firstname }}.' });
    expect((await render('overdue', 'sms', 'en', { ...base, items: [roda] })).text).to.equal('Overdue: 1.\n');
  });

  it('usage errors exit 2 and change nothing', async () => {
    const before = await db.knex('kmc_templates').orderBy('id').select();
    for (const args of [
      ['templates'],
      ['templates', 'import-koha', '--bogus'],
      ['templates', 'import-koha', '--default-lang', 'Svenska!'],
    ]) {
      const r = await runKmc(args, env);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(/^kmc: .*\[KMC_USAGE\]$/);
    }
    expect(await db.knex('kmc_templates').orderBy('id').select()).to.deep.equal(before);
  });

  it('failed work exits 1: a database without Koha letters says so', async () => {
    const r = await runKmc(['templates', 'import-koha'], { ...env, KMC_DATABASE_URL: db.url.replace(/\/[^/]+$/, '/kmc_no_such_database') });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('cannot use the database');
  });
});
