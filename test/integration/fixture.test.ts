import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  KOHA_FIXTURE_TABLES,
  KohaBuilder,
  barcodeFor,
  cardnumberFor,
  seedLibrary,
  type SeedOptions,
  type SeedSummary,
} from '../../sidecar/fixture';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';

const TODAY = '2025-03-14';
const SMALL: SeedOptions = { today: TODAY, seed: 42, patrons: 40, biblios: 60, itemsPerBiblio: 2, loans: 60, overdueShare: 0.5, holds: 8 };

/** Rows of `table` (which may carry an alias), narrowed by `where` when given. */
async function countOf(knex: Knex, table: string, where?: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
  const rows = where ? where(knex(table)) : knex(table);
  const row = (await rows.count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/** A digest of what a library holds (not of timestamps the server sets). */
async function fingerprint(knex: Knex): Promise<string> {
  const hash = createHash('sha256');
  const parts: Array<[string, string[], string]> = [
    [
      'borrowers',
      [
        'borrowernumber',
        'cardnumber',
        'surname',
        'firstname',
        'email',
        'mobile',
        'smsalertnumber',
        'lang',
        'branchcode',
        'categorycode',
        'dateofbirth',
        'address',
        'city',
      ],
      'borrowernumber',
    ],
    ['biblio', ['biblionumber', 'title', 'subtitle', 'author', 'copyrightdate'], 'biblionumber'],
    [
      'items',
      ['itemnumber', 'biblionumber', 'barcode', 'homebranch', 'holdingbranch', 'itype', 'onloan', 'replacementprice', 'itemcallnumber'],
      'itemnumber',
    ],
    ['issues', ['issue_id', 'borrowernumber', 'itemnumber', 'date_due', 'issuedate', 'branchcode'], 'issue_id'],
    ['old_issues', ['issue_id', 'borrowernumber', 'itemnumber', 'returndate'], 'issue_id'],
    [
      'reserves',
      ['reserve_id', 'borrowernumber', 'biblionumber', 'itemnumber', 'found', 'waitingdate', 'expirationdate', 'branchcode'],
      'reserve_id',
    ],
    ['accountlines', ['borrowernumber', 'itemnumber', 'amount'], 'accountlines_id'],
    [
      'borrower_message_preferences',
      ['borrowernumber', 'categorycode', 'message_attribute_id', 'days_in_advance', 'wants_digest'],
      'borrower_message_preference_id',
    ],
  ];
  for (const [table, columns, order] of parts) {
    const rows = await knex(table).select(columns).orderBy(order);
    hash.update(`${table}:${rows.length}\n`);
    for (const row of rows) hash.update(`${columns.map((c) => String(row[c])).join('|')}\n`);
  }
  return hash.digest('hex');
}

describe(`Koha fixture: seeder and builder (${kohaSchemaKind()} schema)`, function () {
  describe('a seeded small library', function () {
    let db: KohaDatabase;
    let summary: SeedSummary;
    const progress: string[] = [];

    before(async function () {
      db = await createKohaDatabase('seed');
      summary = await seedLibrary(db.knex, { ...SMALL, onProgress: (m) => progress.push(m) });
    });
    after(async function () {
      await db.drop();
    });

    it('holds exactly the patrons, records, items, loans and holds asked for', async function () {
      const k = db.knex;
      expect(await countOf(k, 'borrowers')).to.equal(40);
      expect(await countOf(k, 'biblio')).to.equal(60);
      expect(await countOf(k, 'biblioitems')).to.equal(60);
      expect(await countOf(k, 'items')).to.equal(120);
      expect(await countOf(k, 'issues')).to.equal(60);
      expect(await countOf(k, 'issues', (q) => q.where('date_due', '<', `${TODAY} 00:00:00`))).to.equal(30);
      expect(await countOf(k, 'reserves', (q) => q.where('found', 'W'))).to.equal(8);
      expect(await countOf(k, 'reserves', (q) => q.where('found', 'T'))).to.equal(summary.holdsInTransit);
      expect(await countOf(k, 'reserves', (q) => q.whereNull('found'))).to.equal(summary.holdsQueued);
      expect(await countOf(k, 'old_issues')).to.equal(summary.returnedLoans);
      expect(await countOf(k, 'accountlines')).to.equal(summary.fines);
      expect(await countOf(k, 'borrower_message_preferences', (q) => q.whereNotNull('borrowernumber'))).to.equal(
        summary.messagePreferences,
      );
      expect(await countOf(k, 'borrowers', (q) => q.whereNotNull('email'))).to.equal(summary.patronsWithEmail);
      expect(await countOf(k, 'borrowers', (q) => q.whereNotNull('smsalertnumber'))).to.equal(summary.patronsWithSmsNumber);
      expect(summary).to.include({ patrons: 40, biblios: 60, items: 120, loans: 60, overdueLoans: 30, holdsWaiting: 8 });
      expect(summary.rowsInserted).to.be.greaterThan(600);
    });

    it('fills every Koha table the sidecar reads', async function () {
      const empty: string[] = [];
      // A seeded library names no SMTP server of Koha's: its mail must reach the sidecar's own server (KMC_SMTP_URL, the demo's capture).
      // Nor does it end holds (old_reserves is where Koha moves them when they are picked up or cancelled).
      const leftEmpty = new Set(['smtp_servers', 'library_smtp_servers', 'old_reserves']);
      for (const table of KOHA_FIXTURE_TABLES) if (!leftEmpty.has(table) && (await countOf(db.knex, table)) === 0) empty.push(table);
      expect(empty).to.deep.equal([]);
    });

    it('keeps non-ASCII names and awkward titles exactly as written', async function () {
      const asa = await db
        .knex('borrowers')
        .whereRaw('surname = ? COLLATE utf8mb4_bin AND firstname = ? COLLATE utf8mb4_bin', ['Öberg', 'Åsa'])
        .first('surname', 'firstname', 'lang', 'smsalertnumber');
      expect(asa).to.deep.equal({ surname: 'Öberg', firstname: 'Åsa', lang: 'sv-SE', smsalertnumber: '+46701234567' });
      const [hex] = (await db.knex.raw('SELECT HEX(firstname) AS h FROM borrowers WHERE borrowernumber = 3'))[0] as Array<{ h: string }>;
      expect(hex.h).to.equal(Buffer.from('Åsa', 'utf8').toString('hex').toUpperCase());
      for (const name of ['Østergaard', 'Müller', 'Weiß', 'Kjærgaard', 'Schröder']) {
        expect(await countOf(db.knex, 'borrowers', (q) => q.whereRaw('surname = ? COLLATE utf8mb4_bin', [name])), name).to.be.at.least(1);
      }
      const titles = (await db.knex('biblio').pluck('title')) as string[];
      expect(titles).to.include('Hav 🌊 och himmel');
      expect(titles).to.include('Ost & Käse: "Das Kochbuch" <für alle>');
    });

    it('has patrons with malformed e-mail, patrons without e-mail, and some with mobiles only', async function () {
      const emails = (await db.knex('borrowers').pluck('email')) as Array<string | null>;
      for (const bad of ['anna.lund@@example', 'no-at-sign.example.org', 'space in@example.org']) expect(emails).to.include(bad);
      expect(summary.malformedEmails).to.have.length(3);
      expect(emails.filter((e) => e === null).length)
        .to.equal(summary.patronsWithoutEmail)
        .and.to.be.greaterThan(0);
      const domains = new Set(
        emails.filter((e): e is string => !!e && /^[^@\s]+@[^@\s]+$/.test(e)).map((e) => e.split('@')[1].toLowerCase()),
      );
      expect([...domains].sort()).to.deep.equal(['example.com', 'example.net', 'example.org']);
      const smsOnly = await countOf(db.knex, 'borrowers', (q) => q.whereNull('email').whereNotNull('smsalertnumber'));
      expect(smsOnly).to.be.greaterThan(0);
      const numbers = (await db.knex('borrowers').whereNotNull('smsalertnumber').pluck('smsalertnumber')) as string[];
      // As patrons type them: mostly international, some in local form.
      for (const n of numbers) expect(n).to.match(/^(\+4[569])?\d{8,}$/);
      expect(numbers.some((n) => n.startsWith('+'))).to.equal(true);
    });

    it('varies patron languages, and every branch has an e-mail address', async function () {
      const langs = new Set((await db.knex('borrowers').pluck('lang')) as string[]);
      expect(langs).to.include('default');
      expect([...langs].filter((l) => ['sv-SE', 'da-DK', 'de-DE', 'en'].includes(l)).length).to.be.at.least(3);
      const branches = await db.knex('branches').select('branchcode', 'branchname', 'branchemail').orderBy('branchcode');
      expect(branches.map((b) => b.branchname)).to.have.members(['Centralbiblioteket', 'Østerbro Bibliotek', 'Stadtbibliothek am Hafen']);
      for (const b of branches) expect(b.branchemail).to.match(/@example\.(org|net|com)$/);
      const prefs = await db.knex('systempreferences').whereIn('variable', ['dateformat', 'CurrencyFormat']).pluck('value');
      expect(prefs).to.have.members(['metric', 'FR']);
    });

    it('spreads due dates from 60 days back to 30 days ahead, due at 23:59:00', async function () {
      const dues = (await db.knex('issues').pluck('date_due')) as string[];
      const days = dues.map((d) => Math.round((Date.parse(`${d.slice(0, 10)}T00:00:00Z`) - Date.parse(`${TODAY}T00:00:00Z`)) / 86_400_000));
      expect(Math.min(...days)).to.be.within(-60, -30);
      expect(Math.max(...days)).to.be.within(10, 30);
      expect(dues.every((d) => d.endsWith(' 23:59:00'))).to.equal(true);
      expect(await countOf(db.knex, 'issues', (q) => q.whereRaw('issuedate >= date_due'))).to.equal(0);
    });

    it('marks exactly the loaned items as on loan until their due date', async function () {
      const mismatched = await countOf(db.knex, 'items as i', (q) =>
        q.leftJoin('issues as s', 's.itemnumber', 'i.itemnumber').whereRaw('NOT (i.onloan <=> DATE(s.date_due))'),
      );
      expect(mismatched).to.equal(0);
      expect(await countOf(db.knex, 'items', (q) => q.whereNotNull('onloan'))).to.equal(60);
    });

    it('keeps waiting holds on the shelf of their pickup branch until a later expiry date', async function () {
      const waiting = await db
        .knex('reserves as r')
        .join('items as i', 'i.itemnumber', 'r.itemnumber')
        .where('r.found', 'W')
        .select(
          'r.biblionumber',
          'i.biblionumber as itemBiblio',
          'r.branchcode',
          'i.holdingbranch',
          'i.onloan',
          'r.waitingdate',
          'r.expirationdate',
          'r.priority',
        );
      expect(waiting).to.have.length(8);
      for (const h of waiting) {
        expect(h.itemBiblio).to.equal(h.biblionumber);
        expect(h.holdingbranch).to.equal(h.branchcode);
        expect(h.onloan).to.equal(null);
        expect(h.priority).to.equal(0);
        expect(h.waitingdate <= TODAY).to.equal(true);
        expect(h.expirationdate >= TODAY && h.expirationdate > h.waitingdate).to.equal(true);
      }
      const queuedOnLoanedRecords = await countOf(db.knex, 'reserves as r', (q) =>
        q.whereNull('r.found').whereExists((e) => {
          void e
            .select(db.knex.raw('1'))
            .from('items as i')
            .join('issues as s', 's.itemnumber', 'i.itemnumber')
            .whereRaw('i.biblionumber = r.biblionumber');
        }),
      );
      expect(queuedOnLoanedRecords).to.equal(summary.holdsQueued);
    });

    it('charges overdue fines to adults only, within the rules', async function () {
      const fines = await db
        .knex('accountlines as a')
        .join('borrowers as b', 'b.borrowernumber', 'a.borrowernumber')
        .join('issues as s', 's.issue_id', 'a.issue_id')
        .select('b.categorycode', 'a.amount', 'a.debit_type_code', 's.date_due');
      expect(fines.length).to.equal(summary.fines).and.to.be.greaterThan(0);
      for (const f of fines) {
        expect(f.categorycode).to.not.equal('CHILD');
        expect(f.debit_type_code).to.equal('OVERDUE');
        expect(Number(f.amount)).to.be.within(2, 60);
        expect(f.date_due < TODAY).to.equal(true);
      }
    });

    it('gives the staff logins a password and permissions', async function () {
      const admin = await db.knex('borrowers').where({ userid: 'admin' }).first('flags', 'password', 'categorycode');
      expect(admin).to.include({ flags: 1, categorycode: 'STAFF' });
      expect(admin.password).to.match(/^\$2a\$08\$/);
      const perms = await db.knex('user_permissions').where({ borrowernumber: 2 }).pluck('code');
      expect(perms).to.include('edit_notices');
    });

    it('reports progress while it works', function () {
      expect(progress.some((m) => /^patrons 40\/40/.test(m))).to.equal(true);
      expect(progress.some((m) => /loans 60\/60/.test(m))).to.equal(true);
    });
  });

  describe('determinism and safety', function () {
    const dbs: KohaDatabase[] = [];
    after(async function () {
      for (const db of dbs) await db.drop();
    });
    async function seeded(label: string, opts: SeedOptions): Promise<string> {
      const db = await createKohaDatabase(label);
      dbs.push(db);
      await seedLibrary(db.knex, opts);
      return fingerprint(db.knex);
    }

    it('the same seed gives the same library whatever the batch size; another seed another library', async function () {
      const a = await seeded('same_a', SMALL);
      const b = await seeded('same_b', { ...SMALL, batchSize: 7 });
      const c = await seeded('other', { ...SMALL, seed: 43 });
      expect(b).to.equal(a);
      expect(c).to.not.equal(a);
    });

    it('refuses to seed a database that already holds patrons', async function () {
      const db = await createKohaDatabase('refuse');
      dbs.push(db);
      await seedLibrary(db.knex, { today: TODAY, patrons: 3, biblios: 2, loans: 1, holds: 0, returnedLoans: 0 });
      let error: unknown;
      await seedLibrary(db.knex, { today: TODAY }).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/borrowers already holds 3 rows/);
      expect(await countOf(db.knex, 'borrowers')).to.equal(3);
    });

    it('refuses options it cannot honour before writing anything', async function () {
      const db = await createKohaDatabase('badopts');
      dbs.push(db);
      let error: unknown;
      await seedLibrary(db.knex, { today: TODAY, biblios: 5, itemsPerBiblio: 1, loans: 10 }).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/need that many items/);
      await seedLibrary(db.knex, { today: '14.03.2025' }).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/today must be a date/);
      expect(await countOf(db.knex, 'branches')).to.equal(0);
    });
  });

  describe('KohaBuilder', function () {
    let db: KohaDatabase;
    let k: KohaBuilder;
    before(async function () {
      db = await createKohaDatabase('builder');
      k = new KohaBuilder(db.knex);
      await k.branch({ code: 'OST', name: 'Østerbro Bibliotek', email: 'oesterbro@example.net' });
      await k.category({ code: 'ADULT', description: 'Voksen' });
      await k.itemtype({ code: 'BK', description: 'Bog', defaultReplaceCost: 250 });
    });
    after(async function () {
      await db.drop();
    });

    it('checks an item out and back in the way Koha does', async function () {
      const borrowernumber = await k.patron({
        surname: 'Øberg',
        firstname: 'Åse',
        email: 'aase@example.net',
        branchcode: 'OST',
        categorycode: 'ADULT',
        lang: 'da-DK',
      });
      const patron = await db.knex('borrowers').where({ borrowernumber }).first('cardnumber', 'surname', 'lang', 'dateenrolled');
      expect(patron).to.include({ cardnumber: cardnumberFor(borrowernumber), surname: 'Øberg', lang: 'da-DK' });
      expect(patron.dateenrolled).to.match(/^\d{4}-\d{2}-\d{2}$/);

      const biblionumber = await k.biblio({ title: 'Havet ved Skagen', author: 'Kjærgaard, Jens' });
      const itemnumber = await k.item({ biblionumber, homebranch: 'OST', itype: 'BK', replacementprice: 249 });
      const item = await db.knex('items').where({ itemnumber }).first('barcode', 'biblioitemnumber', 'holdingbranch', 'onloan');
      const bi = await db.knex('biblioitems').where({ biblionumber }).first('biblioitemnumber');
      expect(item).to.deep.equal({
        barcode: barcodeFor(itemnumber),
        biblioitemnumber: bi.biblioitemnumber,
        holdingbranch: 'OST',
        onloan: null,
      });

      const issueId = await k.loan({ borrowernumber, itemnumber, dateDue: '2025-03-01', branchcode: 'OST' });
      expect(await db.knex('issues').where({ issue_id: issueId }).first('date_due', 'issuedate')).to.deep.equal({
        date_due: '2025-03-01 23:59:00',
        issuedate: '2025-02-01 12:00:00',
      });
      expect((await db.knex('items').where({ itemnumber }).first('onloan')).onloan).to.equal('2025-03-01');

      let twice: unknown;
      await k.loan({ borrowernumber, itemnumber, dateDue: '2025-04-01', branchcode: 'OST' }).catch((e: unknown) => (twice = e));
      expect(String(twice)).to.match(/Duplicate entry/);
      const spare = await k.item({ biblionumber, homebranch: 'OST', itype: 'BK' });
      let nobody: unknown;
      await k
        .loan({ borrowernumber: 999999, itemnumber: spare, dateDue: '2025-04-01', branchcode: 'OST' })
        .catch((e: unknown) => (nobody = e));
      expect(String(nobody)).to.match(/foreign key constraint fails/);
      expect((await db.knex('items').where({ itemnumber: spare }).first('onloan')).onloan).to.equal(null);

      await k.returnLoan(issueId, '2025-03-05');
      expect(await countOf(db.knex, 'issues')).to.equal(0);
      expect(
        await db.knex('old_issues').where({ issue_id: issueId }).first('borrowernumber', 'itemnumber', 'date_due', 'returndate'),
      ).to.deep.equal({
        borrowernumber,
        itemnumber,
        date_due: '2025-03-01 23:59:00',
        returndate: '2025-03-05 00:00:00',
      });
      expect((await db.knex('items').where({ itemnumber }).first('onloan')).onloan).to.equal(null);
      let again: unknown;
      await k.returnLoan(issueId, '2025-03-06').catch((e: unknown) => (again = e));
      expect(String(again)).to.match(/no active loan/);

      const next = await k.loan({ borrowernumber, itemnumber, dateDue: '2025-04-02 16:00:00', branchcode: 'OST' });
      expect(next).to.be.greaterThan(issueId);
      expect((await db.knex('issues').where({ issue_id: next }).first('date_due')).date_due).to.equal('2025-04-02 16:00:00');
    });

    it('writes holds, messaging preferences, fines, settings and plugin data', async function () {
      const borrowernumber = await k.patron({
        surname: 'Weiß',
        firstname: 'Käthe',
        smsalertnumber: '+4915123456789',
        branchcode: 'OST',
        categorycode: 'ADULT',
      });
      const biblionumber = await k.biblio({ title: 'Die Glocken von Lübeck', author: 'Weiß, Jürgen' });
      const itemnumber = await k.item({ biblionumber, homebranch: 'OST', itype: 'BK', barcode: 'WB-1' });
      const holdId = await k.hold({
        borrowernumber,
        biblionumber,
        itemnumber,
        branchcode: 'OST',
        found: 'W',
        waitingdate: '2025-03-12',
        expirationdate: '2025-03-19',
      });
      expect(await db.knex('reserves').where({ reserve_id: holdId }).first('found', 'priority', 'reservedate', 'itemnumber')).to.deep.equal(
        {
          found: 'W',
          priority: 0,
          reservedate: '2025-03-09',
          itemnumber,
        },
      );
      const queued = await k.hold({ borrowernumber, biblionumber, branchcode: 'OST' });
      expect((await db.knex('reserves').where({ reserve_id: queued }).first('priority')).priority).to.equal(1);

      const prefId = await k.messagePreference({ borrowernumber, message: 'Hold_Filled', transports: ['sms', 'email'] });
      const transports = await db
        .knex('borrower_message_transport_preferences')
        .where({ borrower_message_preference_id: prefId })
        .pluck('message_transport_type');
      expect(transports).to.have.members(['sms', 'email']);
      const attr = await db
        .knex('borrower_message_preferences as p')
        .join('message_attributes as a', 'a.message_attribute_id', 'p.message_attribute_id')
        .where('p.borrower_message_preference_id', prefId)
        .first('a.message_name', 'a.message_attribute_id');
      expect(attr).to.deep.equal({ message_name: 'Hold_Filled', message_attribute_id: 4 });
      const advance = await k.messagePreference({ categorycode: 'ADULT', message: 'Advance_Notice' });
      expect(
        (await db.knex('borrower_message_preferences').where({ borrower_message_preference_id: advance }).first('days_in_advance'))
          .days_in_advance,
      ).to.equal(2);
      let neither: unknown;
      await k.messagePreference({ message: 'Item_Due' }).catch((e: unknown) => (neither = e));
      expect(String(neither)).to.match(/exactly one of/);
      expect(await db.knex('message_transport_types').pluck('message_transport_type')).to.have.members([
        'email',
        'sms',
        'print',
        'phone',
        'itiva',
      ]);

      const fine = await k.fine({ borrowernumber, itemnumber, amount: 12.5 });
      expect(await db.knex('accountlines').where({ accountlines_id: fine }).first('amountoutstanding', 'debit_type_code')).to.deep.equal({
        amountoutstanding: '12.500000',
        debit_type_code: 'OVERDUE',
      });

      await k.systemPreference('dateformat', 'us');
      await k.systemPreference('dateformat', 'metric');
      expect(await db.knex('systempreferences').where({ variable: 'dateformat' }).pluck('value')).to.deep.equal(['metric']);
      await k.pluginData('Koha::Plugin::Test', '__ENABLED__', '1');
      await k.pluginData('Koha::Plugin::Test', '__ENABLED__', '0');
      expect(await db.knex('plugin_data').where({ plugin_class: 'Koha::Plugin::Test' }).pluck('plugin_value')).to.deep.equal(['0']);
    });
  });
});
