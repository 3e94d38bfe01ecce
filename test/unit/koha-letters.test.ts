import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  convertKohaLetter,
  describeConversion,
  describeImportPlan,
  planKohaLetterImport,
  type ConvertedTemplate,
  type ExistingTemplate,
  type KohaLetterImportPlan,
  type KohaLetterRow,
  type PlannedTemplate,
} from '../../sidecar/koha-letters';
import { NoticeRenderer } from '../../sidecar/rendering/notices';
import { emailDocument } from '../../sidecar/rendering/email-layout';
import { checkNoticeTemplate } from '../../sidecar/rendering/safety';

// ---------------------------------------------------------------------------
// Koha letters, written the way Koha's sample notices and libraries write them

function letter(fields: Partial<KohaLetterRow> & Pick<KohaLetterRow, 'code' | 'content'>): KohaLetterRow {
  return {
    module: 'circulation',
    branchcode: '',
    name: fields.code,
    is_html: 0,
    title: '',
    message_transport_type: 'email',
    lang: 'default',
    ...fields,
  };
}

const ODUE = letter({
  code: 'ODUE',
  title: 'Item overdue',
  content: [
    'Dear <<borrowers.firstname>> <<borrowers.surname>>,',
    '',
    'According to our current records, you have items that are overdue. Please return or renew them at the branch below as soon as possible.',
    '',
    '<<branches.branchname>>',
    'Phone: <<branches.branchphone>>',
    'Email: <<branches.branchemail>>',
    '',
    'The following item(s) is/are currently overdue:',
    '',
    '<item>"<<biblio.title>>" by <<biblio.author>>, <<items.itemcallnumber>>, Barcode: <<items.barcode>> Due: <<issues.date_due>></item>',
    '',
    'Thank-you for your prompt attention to this matter.',
    '',
    '<<branches.branchname>> Staff',
    '',
  ].join('\n'),
});

const ODUE2 = letter({
  code: 'ODUE2',
  title: 'Second notice: [% overdues.size %] overdue item(s)',
  content: [
    '[%- USE KohaDates -%]',
    'Dear [% borrower.firstname %],',
    '',
    'This is a second reminder. [% IF overdues.size == 1 %]This item is[% ELSE %]These items are[% END %] still overdue:',
    '[% FOREACH overdue IN overdues %]',
    '- [% overdue.item.biblio.title | html %] ([% overdue.item.barcode %]), due [% overdue.date_due | $KohaDates %]',
    '[%- END %]',
    '',
    '[% branch.branchname %]',
  ].join('\n'),
});

const ODUE_SMS = letter({
  code: 'ODUE',
  message_transport_type: 'sms',
  title: 'Item overdue',
  content: '<<branches.branchname>>: <<count>> item(s) overdue on card <<borrowers.cardnumber>>. Please return or renew.',
});

/** The one with bits the sidecar has no counterpart for. */
const ODUE3_PRINT = letter({
  code: 'ODUE3',
  message_transport_type: 'print',
  title: 'Final notice',
  content: [
    '[% USE Branches %]<<borrowers.firstname>> <<borrowers.surname>>',
    '<<borrowers.address>>',
    '',
    'Card: <<borrowers.cardnumber>> <<borrower-attribute:LOCKER>>',
    'Final notice from [% Branches.GetName( borrower.branchcode ) %].',
    '[% SET total = 0 %]',
    '<item><<biblio.title>> (<<items.barcode>>) fine <<items.fine>></item>',
    '',
    "[% INCLUDE 'letter-footer.inc' %]",
    "[% IF borrower.category.category_type == 'C' %]Please ask a parent to help.[% END %]",
    '<<branches.branchname>>',
  ].join('\n'),
});

const PREDUE = letter({
  code: 'PREDUE',
  title: 'Advance notice of item due',
  content:
    'Dear <<borrowers.firstname>> <<borrowers.surname>>,\n\nThe following item will be due soon:\n\n<<biblio.title>>, <<biblio.author>> (<<items.barcode>>)',
});

const PREDUEDGST = letter({
  code: 'PREDUEDGST',
  title: 'Advance notice of items due',
  content: [
    '[%- USE KohaDates -%]',
    'Dear [% borrower.firstname %] [% borrower.surname %],',
    '',
    'The following [% checkouts.size %] items will be due soon:',
    '[% FOREACH checkout IN checkouts -%]',
    '[% loop.count %]. [% checkout.item.biblio.title %] by [% checkout.item.biblio.author %], due [% checkout.date_due | $KohaDates as_due_date => 1 %]',
    '[% END -%]',
    '',
    'Thank you.',
  ].join('\n'),
});

const DUEDGST = letter({
  code: 'DUEDGST',
  title: 'Items due today',
  content: 'Dear <<borrowers.firstname>>,\n\n<<count>> item(s) are due today:\n\n<<items.content>>\nThank you.',
});

const HOLD = letter({
  module: 'reserves',
  code: 'HOLD',
  title: 'Hold available for pickup at <<branches.branchname>>',
  content: [
    'Dear <<borrowers.firstname>> <<borrowers.surname>>,',
    '',
    'You have a hold available for pickup as of <<reserves.waitingdate>>:',
    '',
    'Title: <<biblio.title>>',
    'Author: <<biblio.author>>',
    'Barcode: <<items.barcode>>',
    'Location: <<branches.branchname>>',
    '<<branches.branchaddress1>>',
    '',
    'Please pick it up by <<reserves.expirationdate>>.',
  ].join('\n'),
});

const HOLD_SMS = letter({
  module: 'reserves',
  code: 'HOLD',
  message_transport_type: 'sms',
  title: 'Hold available',
  content:
    '[%- USE KohaDates -%]\n[% branch.branchname %]: "[% biblio.title %]" is waiting for you until [% hold.expirationdate | $KohaDates %]. Card [% borrower.cardnumber %].',
});

const HOLD_REMINDER = letter({
  module: 'reserves',
  code: 'HOLD_REMINDER',
  title: 'You have waiting holds.',
  content:
    'Dear [% borrower.firstname %] [% borrower.surname %],\n\nThe following holds are waiting at [% branch.branchname %]:\n\n[% FOREACH hold IN holds %]\n    [% hold.biblio.title %] : waiting since [% hold.waitingdate | $KohaDates %]\n[% END %]',
});

const WELCOME_HTML = letter({
  module: 'members',
  code: 'WELCOME',
  is_html: 1,
  title:
    "[% USE Koha %][% IF Koha.Preference('LibraryName') %]Welcome to [% Koha.Preference('LibraryName') %][% ELSE %]Welcome to the library[% END %]",
  content: [
    '[% USE Koha %]',
    '<p>Hello [% borrower.title | html %] [% borrower.firstname | html %] [% borrower.surname | html %].</p>',
    "<p>Thank you for joining [% IF Koha.Preference('LibraryName') %][% Koha.Preference('LibraryName') | html %][% ELSE %]the library[% END %].</p>",
    '<p>Your library card number is <strong>[% borrower.cardnumber | html %]</strong>.</p>',
    '<p>Questions? Write to <a href="mailto:[% branch.branchemail %]">[% branch.branchemail | html %]</a> &amp; we answer.</p>',
  ].join('\n'),
});

const ACCOUNT_PAYMENT = letter({
  code: 'ACCOUNT_PAYMENT',
  title: 'Account payment',
  content: '[%- USE Price -%]\nA payment of [% credit.amount * -1 | $Price %] has been applied to your account.',
});

const HOLD_PHONE = letter({ module: 'reserves', code: 'HOLD', message_transport_type: 'phone', content: 'Your hold is waiting.' });

const ALL_LETTERS = [
  ODUE,
  ODUE2,
  ODUE_SMS,
  ODUE3_PRINT,
  PREDUE,
  PREDUEDGST,
  DUEDGST,
  HOLD,
  HOLD_SMS,
  HOLD_REMINDER,
  WELCOME_HTML,
  ACCOUNT_PAYMENT,
  HOLD_PHONE,
];

const OPTIONS = { defaultLang: 'en' };

// ---------------------------------------------------------------------------
// The data the sidecar renders notices from (as its notice engine builds it)

const patron = {
  borrowernumber: '42',
  cardnumber: '23529000651225',
  firstname: 'Ada',
  surname: 'Lovelace',
  title: 'Ms',
  email: 'ada@example.org',
};
const branch = {
  code: 'CPL',
  name: 'Centerville',
  email: 'cpl@example.org',
  phone: '555-0100',
  address: '1 Main Street\nCenterville 12345',
};
const hobbit = {
  title: 'The Hobbit',
  author: 'Tolkien, John Ronald Reuel',
  barcode: '39000000123',
  callnumber: 'F TOL',
  due: '11/10/2026',
};
const dune = { title: 'Dune', author: 'Herbert, Frank', barcode: '39000000456', callnumber: 'SF HER', due: '11/12/2026' };
const base = { patron, branch, address: '', level: 0, fee: 0, fee_text: '0.00', today: '11/24/2026', message: '' };
const overdueData = (level: number) => ({ ...base, level, items: [hobbit, dune] });
const holdItem = {
  title: 'The Left Hand of Darkness',
  author: 'Le Guin, Ursula K',
  barcode: '39000000789',
  callnumber: 'SF LEG',
  pickup_by: '12/01/2026',
  pickup_by_day: '2026-12-01',
  waiting_since: '11/24/2026',
};
const holdData = { ...base, items: [holdItem], pickup_branch: 'Centerville', last_pickup_day: '12/01/2026' };

// ---------------------------------------------------------------------------
// Rendering with the sidecar's own renderer

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Renders a planned template the way the sidecar renders any template set: NoticeRenderer over a template folder. */
function render(planned: Pick<PlannedTemplate, 'place' | 'template'>, data: Record<string, unknown>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kmc-koha-letters-'));
  dirs.push(dir);
  const { messageType, channel, lang } = planned.place;
  mkdirSync(path.join(dir, lang));
  const file = (part: string) => path.join(dir, lang, `${messageType}.${channel}.${part}.njk`);
  writeFileSync(file('text'), planned.template.text);
  if (planned.template.subject !== null) writeFileSync(file('subject'), planned.template.subject);
  if (planned.template.html !== null) writeFileSync(file('html'), planned.template.html);
  return new NoticeRenderer({ templateDir: dir }).render({ type: messageType, channel, langs: [lang], branchcode: null, data });
}

function checkAllParts(template: ConvertedTemplate, name: string): void {
  checkNoticeTemplate(template.text, `${name}.text`);
  if (template.subject !== null) checkNoticeTemplate(template.subject, `${name}.subject`);
  if (template.html !== null) checkNoticeTemplate(template.html, `${name}.html`);
}

function templateFor(plan: KohaLetterImportPlan, messageType: string, channel: string): PlannedTemplate {
  const found = plan.templates.find((t) => t.place.messageType === messageType && t.place.channel === channel);
  if (!found) throw new Error(`no ${messageType} ${channel} template in the plan`);
  return found;
}

describe('Koha letters into sidecar templates', () => {
  const plan = planKohaLetterImport(ALL_LETTERS, [], OPTIONS);

  it('converts every letter of a notice the sidecar sends, and says which are not', () => {
    const status = Object.fromEntries(plan.letters.map((r) => [r.letter, r.status]));
    expect(status).to.deep.equal({
      'circulation/ACCOUNT_PAYMENT (email, default, every branch)': 'not_converted',
      'circulation/DUEDGST (email, default, every branch)': 'converted',
      'circulation/ODUE (email, default, every branch)': 'converted',
      'circulation/ODUE (sms, default, every branch)': 'converted',
      'circulation/ODUE2 (email, default, every branch)': 'converted',
      'circulation/ODUE3 (print, default, every branch)': 'partly_converted',
      'circulation/PREDUE (email, default, every branch)': 'converted',
      'circulation/PREDUEDGST (email, default, every branch)': 'converted',
      'members/WELCOME (email, default, every branch)': 'partly_converted',
      'reserves/HOLD (email, default, every branch)': 'converted',
      'reserves/HOLD (phone, default, every branch)': 'not_converted',
      'reserves/HOLD (sms, default, every branch)': 'converted',
      'reserves/HOLD_REMINDER (email, default, every branch)': 'converted',
    });
    expect(plan.counts).to.include({ converted: 9, partlyConverted: 2, notConverted: 2, create: 8 });
    const places = plan.templates.map((t) => `${t.place.messageType}.${t.place.channel}.${t.place.lang}`);
    expect(places).to.deep.equal([
      'hold_reminder.email.en',
      'hold_waiting.email.en',
      'hold_waiting.sms.en',
      'overdue.email.en',
      'overdue.print.en',
      'overdue.sms.en',
      'predue.email.en',
      'welcome.email.en',
    ]);
  });

  it('makes only templates that pass the safety check staff-edited templates pass', () => {
    for (const t of plan.templates) checkAllParts(t.template, t.letters.join('+'));
    for (const r of plan.letters) if (r.template) checkAllParts(r.template, r.letter);
  });

  it('ODUE with an <item> block: one line per overdue item, as Koha repeats the block', () => {
    const rendered = render(templateFor(plan, 'overdue', 'email'), overdueData(1));
    expect(rendered.subject).to.equal('Item overdue');
    expect(rendered.text).to.equal(
      [
        'Dear Ada Lovelace,',
        '',
        'According to our current records, you have items that are overdue. Please return or renew them at the branch below as soon as possible.',
        '',
        'Centerville',
        'Phone: 555-0100',
        'Email: cpl@example.org',
        '',
        'The following item(s) is/are currently overdue:',
        '',
        '"The Hobbit" by Tolkien, John Ronald Reuel, F TOL, Barcode: 39000000123 Due: 11/10/2026',
        '"Dune" by Herbert, Frank, SF HER, Barcode: 39000000456 Due: 11/12/2026',
        '',
        'Thank-you for your prompt attention to this matter.',
        '',
        'Centerville Staff',
        '',
      ].join('\n'),
    );
  });

  it('ODUE2 in Template Toolkit (FOREACH overdues, IF, chomping) is the level-2 branch of the same template', () => {
    const planned = templateFor(plan, 'overdue', 'email');
    expect(planned.letters).to.deep.equal([
      'circulation/ODUE (email, default, every branch)',
      'circulation/ODUE2 (email, default, every branch)',
    ]);
    const rendered = render(planned, overdueData(2));
    expect(rendered.subject).to.equal('Second notice: 2 overdue item(s)');
    expect(rendered.text).to.equal(
      [
        'Dear Ada,',
        '',
        'This is a second reminder. These items are still overdue:',
        '',
        '- The Hobbit (39000000123), due 11/10/2026',
        '- Dune (39000000456), due 11/12/2026',
        '',
        'Centerville',
        '',
      ].join('\n'),
    );
    const one = render(planned, { ...overdueData(2), items: [dune] });
    expect(one.text).to.contain('This item is still overdue:\n\n- Dune (39000000456), due 11/12/2026\n\nCenterville');
  });

  it('an SMS: <<count>> is the number of items', () => {
    const rendered = render(templateFor(plan, 'overdue', 'sms'), overdueData(1));
    expect(rendered.subject).to.equal('');
    expect(rendered.text).to.equal('Centerville: 2 item(s) overdue on card 23529000651225. Please return or renew.\n');
  });

  it('PREDUE, PREDUEDGST and DUEDGST share the pre-due template, each where Koha would send it', () => {
    const planned = templateFor(plan, 'predue', 'email');
    expect(planned.letters).to.deep.equal([
      'circulation/DUEDGST (email, default, every branch)',
      'circulation/PREDUE (email, default, every branch)',
      'circulation/PREDUEDGST (email, default, every branch)',
    ]);
    const single = render(planned, { ...base, items: [dune], days_left: 3 });
    expect(single.subject).to.equal('Advance notice of item due');
    expect(single.text).to.equal('Dear Ada Lovelace,\n\nThe following item will be due soon:\n\nDune, Herbert, Frank (39000000456)\n');

    const digest = render(planned, { ...base, items: [hobbit, dune], days_left: 3 });
    expect(digest.subject).to.equal('Advance notice of items due');
    expect(digest.text).to.equal(
      [
        'Dear Ada Lovelace,',
        '',
        'The following 2 items will be due soon:',
        '1. The Hobbit by Tolkien, John Ronald Reuel, due 11/10/2026',
        '2. Dune by Herbert, Frank, due 11/12/2026',
        '',
        'Thank you.',
        '',
      ].join('\n'),
    );

    const dueToday = render(planned, { ...base, items: [hobbit, dune], days_left: 0 });
    expect(dueToday.subject).to.equal('Items due today');
    expect(dueToday.text).to.equal(
      [
        'Dear Ada,',
        '',
        '2 item(s) are due today:',
        '',
        '11/10/2026\tThe Hobbit\tTolkien, John Ronald Reuel\t39000000123',
        '11/12/2026\tDune\tHerbert, Frank\t39000000456',
        '',
        'Thank you.',
        '',
      ].join('\n'),
    );
  });

  it('HOLD with <<reserves.waitingdate>>: the hold waiting notice', () => {
    const rendered = render(templateFor(plan, 'hold_waiting', 'email'), holdData);
    expect(rendered.subject).to.equal('Hold available for pickup at Centerville');
    expect(rendered.text).to.equal(
      [
        'Dear Ada Lovelace,',
        '',
        'You have a hold available for pickup as of 11/24/2026:',
        '',
        'Title: The Left Hand of Darkness',
        'Author: Le Guin, Ursula K',
        'Barcode: 39000000789',
        'Location: Centerville',
        '1 Main Street',
        'Centerville 12345',
        '',
        'Please pick it up by 12/01/2026.',
        '',
      ].join('\n'),
    );
  });

  it('HOLD by SMS in Template Toolkit', () => {
    const rendered = render(templateFor(plan, 'hold_waiting', 'sms'), holdData);
    expect(rendered.text).to.equal('Centerville: "The Left Hand of Darkness" is waiting for you until 12/01/2026. Card 23529000651225.\n');
  });

  it('HOLD_REMINDER: FOREACH hold IN holds', () => {
    const rendered = render(templateFor(plan, 'hold_reminder', 'email'), {
      ...holdData,
      items: [holdItem, { ...holdItem, title: 'Kindred', waiting_since: '11/22/2026' }],
    });
    expect(rendered.subject).to.equal('You have waiting holds.');
    expect(rendered.text).to.equal(
      [
        'Dear Ada Lovelace,',
        '',
        'The following holds are waiting at Centerville:',
        '',
        '',
        '    The Left Hand of Darkness : waiting since 11/24/2026',
        '',
        '    Kindred : waiting since 11/22/2026',
        '',
      ]
        .join('\n')
        .replace(/\n{3,}/g, '\n\n'),
    );
  });

  it('WELCOME in HTML: the HTML part escaped by the sidecar, a text part without tags, Koha.Preference reported and left to its ELSE', () => {
    const planned = templateFor(plan, 'welcome', 'email');
    const rendered = render(planned, { ...base, items: [] });
    expect(rendered.subject).to.equal('Welcome to the library');
    // The body Koha's letter gives, in the e-mail layout every HTML part goes out in.
    expect(rendered.html).to.equal(
      emailDocument(
        [
          '',
          '<p>Hello Ms Ada Lovelace.</p>',
          '<p>Thank you for joining the library.</p>',
          '<p>Your library card number is <strong>23529000651225</strong>.</p>',
          '<p>Questions? Write to <a href="mailto:cpl@example.org">cpl@example.org</a> &amp; we answer.</p>',
        ].join('\n'),
        { lang: 'en', title: 'Welcome to the library' },
      ),
    );
    expect(rendered.text).to.equal(
      [
        'Hello Ms Ada Lovelace.',
        '',
        'Thank you for joining the library.',
        '',
        'Your library card number is 23529000651225.',
        '',
        'Questions? Write to cpl@example.org & we answer.',
        '',
      ].join('\n'),
    );
    const marked = render(planned, { ...base, items: [], patron: { ...patron, surname: 'Lovelace <b>&</b>' } });
    expect(marked.html).to.contain('Hello Ms Ada Lovelace &lt;b&gt;&amp;&lt;/b&gt;.');
    expect(marked.text).to.contain('Hello Ms Ada Lovelace <b>&</b>.');
    const welcome = plan.letters.find((r) => r.code === 'WELCOME')!;
    expect(describeConversion(welcome)).to.deep.equal([
      'members/WELCOME (email, default, every branch): converted to welcome by e-mail (en, every branch), with 2 piece(s) left out',
      "  subject line 1: [% IF Koha.Preference('LibraryName') %] left out: Koha.Preference(...) calls Koha's own code, which the sidecar does not have; the text under this condition is left out, as if the condition were false",
      "  content line 3: [% IF Koha.Preference('LibraryName') %] left out: Koha.Preference(...) calls Koha's own code, which the sidecar does not have; the text under this condition is left out, as if the condition were false",
      '  content: note: the text part is the HTML with its tags taken out',
    ]);
  });

  it('ODUE3 with pieces Koha has and the sidecar has not: left out, each with its line and why', () => {
    const rendered = render(templateFor(plan, 'overdue', 'print'), { ...overdueData(3), address: '1 Elm Street\n12345 Springfield' });
    expect(rendered.subject).to.equal('Final notice');
    expect(rendered.text).to.equal(
      [
        'Ada Lovelace',
        '1 Elm Street',
        '12345 Springfield',
        '',
        'Card: 23529000651225 ',
        'Final notice from .',
        '',
        'The Hobbit (39000000123) fine ',
        'Dune (39000000456) fine ',
        '',
        'Centerville',
        '',
      ].join('\n'),
    );
    const odue3 = plan.letters.find((r) => r.code === 'ODUE3')!;
    expect(odue3.problems.map((p) => `${p.part} ${p.line}: ${p.piece}`)).to.deep.equal([
      'content 4: <<borrower-attribute:LOCKER>>',
      'content 5: [% Branches.GetName( borrower.branchcode ) %]',
      'content 6: [% SET total = 0 %]',
      'content 7: <<items.fine>>',
      "content 9: [% INCLUDE 'letter-footer.inc' %]",
      "content 10: [% IF borrower.category.category_type == 'C' %]",
    ]);
    expect(describeConversion(odue3)).to.deep.equal([
      'circulation/ODUE3 (print, default, every branch): converted to overdue level 3 by letter (en, every branch), with 6 piece(s) left out',
      '  content line 4: <<borrower-attribute:LOCKER>> left out: <<borrower-attribute:LOCKER>> is not a placeholder the converter knows; Koha leaves unknown ones empty',
      "  content line 5: [% Branches.GetName( borrower.branchcode ) %] left out: Branches.GetName(...) calls Koha's own code, which the sidecar does not have; left out",
      "  content line 6: [% SET total = 0 %] left out: [% SET %] is not converted: the sidecar's templates take values as they come",
      '  content line 7: <<items.fine>> left out: the sidecar keeps no fine per item; the fee of the whole notice is {{ fee_text }}',
      "  content line 9: [% INCLUDE 'letter-footer.inc' %] left out: [% INCLUDE %] reads another of Koha's templates, which the sidecar does not have",
      `  content line 10: [% IF borrower.category.category_type == 'C' %] left out: "borrower.category.category_type" has no counterpart in the sidecar's notices; the text under this condition is left out, as if the condition were false`,
      "  content line 2: <<borrowers.address>>: note: the sidecar prints the patron's whole postal address in one place (on letters only): the street line stands for all of it",
    ]);
  });

  it('says why the letters it does not convert are not converted', () => {
    const lines = plan.letters.filter((r) => r.status === 'not_converted').flatMap(describeConversion);
    expect(lines).to.deep.equal([
      'circulation/ACCOUNT_PAYMENT (email, default, every branch): not converted: not one of the notices this sidecar sends (overdue levels, pre-due, due, hold waiting, hold reminder, welcome)',
      'reserves/HOLD (phone, default, every branch): not converted: the sidecar sends no "phone" messages (only email, sms and print)',
    ]);
    expect(describeImportPlan(plan).at(-1)).to.equal(
      '13 letter(s): 9 converted, 2 partly converted, 2 not converted; templates: 8 to create, 0 to update, 0 unchanged, 0 kept as staff left them',
    );
  });
});

describe('one Koha letter', () => {
  it("takes the letter's language and branch; `default` becomes the library's default language", () => {
    const sv = convertKohaLetter({ ...PREDUE, lang: 'sv-SE', branchcode: 'CPL' }, OPTIONS);
    expect(sv.target).to.include({ messageType: 'predue', channel: 'email', lang: 'sv-SE', branchcode: 'CPL' });
    const fallback = convertKohaLetter(PREDUE, { defaultLang: 'da' });
    expect(fallback.target).to.include({ lang: 'da', branchcode: '' });
  });

  it("follows the library's own overdue letter codes from its overdue triggers", () => {
    const named = { ...ODUE, code: 'OVERDUE_ADULT' };
    expect(convertKohaLetter(named, OPTIONS).status).to.equal('not_converted');
    const result = convertKohaLetter(named, { ...OPTIONS, overdueLevels: new Map([['OVERDUE_ADULT', [2, 1]]]) });
    expect(result.target).to.include({ messageType: 'overdue', condition: 'level == 1 or level == 2' });
    expect(result.target?.levels).to.deep.equal([1, 2]);
  });

  it('keeps literal braces literal, so a letter cannot inject template code', () => {
    const result = convertKohaLetter(
      letter({ code: 'ODUE', content: 'Dear <<borrowers.firstname>>, {{ patron.constructor }} {% raw %} {# x #} %} }} #} {' }),
      OPTIONS,
    );
    expect(result.status).to.equal('converted');
    const place = { messageType: 'overdue' as const, channel: 'email' as const, lang: 'en', branchcode: '' };
    const rendered = render({ place, template: result.template! }, overdueData(1));
    expect(rendered.text).to.equal('Dear Ada, {{ patron.constructor }} {% raw %} {# x #} %} }} #} {\n');
  });

  it('applies a filter to the whole value before it, and reads | and || inside strings and conditions right', () => {
    const result = convertKohaLetter(
      letter({
        code: 'ODUE',
        content: "[% borrower.title || 'Reader|Friend' | upper %] [% IF overdues.size > 1 || borrower.firstname == 'a|b' %]many[% END %]",
      }),
      OPTIONS,
    );
    expect(result.status).to.equal('converted');
    expect(result.template?.text).to.equal(
      '{{ (patron.title or "Reader|Friend") | upper }} {% if items | length > 1 or patron.firstname == "a|b" %}many{% endif %}',
    );
    const place = { messageType: 'overdue' as const, channel: 'email' as const, lang: 'en', branchcode: '' };
    const noTitle = render({ place, template: result.template! }, { ...overdueData(1), patron: { ...patron, title: '' } });
    expect(noTitle.text).to.equal('READER|FRIEND many\n');
  });

  it('reports a block that is never closed, and closes it', () => {
    const result = convertKohaLetter(letter({ code: 'ODUE', content: 'Hi\n[% IF borrower.firstname %]<<borrowers.firstname>>' }), OPTIONS);
    expect(result.status).to.equal('partly_converted');
    expect(result.problems.map((p) => `${p.line}: ${p.reason}`)).to.deep.equal([
      '2: this block is never closed; Koha could not use the letter as it is',
    ]);
    expect(result.template?.text).to.equal('Hi\n{% if patron.firstname %}{{ patron.firstname }}{% endif %}');
  });

  it("item fields outside the item list are empty in Koha's digests, and reported", () => {
    const result = convertKohaLetter(letter({ code: 'ODUE', content: 'About <<biblio.title>>:\n<item><<biblio.title>></item>' }), OPTIONS);
    expect(result.problems.map((p) => `${p.line}: ${p.piece}`)).to.deep.equal(['1: <<biblio.title>>']);
    expect(result.template?.text).to.equal(
      'About :\n{% for item in items %}{{ item.title }}{% if not loop.last %}\n{% endif %}{% endfor %}',
    );
  });
});

describe('planning an import of Koha letters', () => {
  const letters = [ODUE, ODUE2, PREDUE, PREDUEDGST, HOLD, WELCOME_HTML];

  /** What the template store holds after applying a plan (the lead's store does this for real). */
  function applied(plan: KohaLetterImportPlan, before: ExistingTemplate[] = []): ExistingTemplate[] {
    const store = new Map(before.map((t) => [`${t.messageType}|${t.channel}|${t.lang}|${t.branchcode}`, t]));
    for (const t of plan.templates) {
      if (t.action !== 'create' && t.action !== 'update') continue;
      const key = `${t.place.messageType}|${t.place.channel}|${t.place.lang}|${t.place.branchcode}`;
      store.set(key, { ...t.place, ...t.template, importedFromKoha: true, editedHere: false });
    }
    return [...store.values()];
  }

  it('creates what is missing, and running it again changes nothing', () => {
    const first = planKohaLetterImport(letters, [], OPTIONS);
    expect(first.templates.map((t) => t.action)).to.deep.equal(['create', 'create', 'create', 'create']);
    const again = planKohaLetterImport(letters, applied(first), OPTIONS);
    expect(again.templates.map((t) => t.action)).to.deep.equal(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(again.counts).to.include({ create: 0, update: 0, unchanged: 4, keep: 0 });
  });

  it('updates an imported template staff have not touched when the letter changed in Koha', () => {
    const store = applied(planKohaLetterImport(letters, [], OPTIONS));
    const changed = letters.map((l) => (l === HOLD ? { ...HOLD, title: 'Your hold is ready at <<branches.branchname>>' } : l));
    const plan = planKohaLetterImport(changed, store, OPTIONS);
    expect(plan.templates.map((t) => `${t.place.messageType}: ${t.action}`)).to.deep.equal([
      'hold_waiting: update',
      'overdue: unchanged',
      'predue: unchanged',
      'welcome: unchanged',
    ]);
    expect(templateFor(plan, 'hold_waiting', 'email').template.subject).to.equal('Your hold is ready at {{ branch.name }}');
    expect(planKohaLetterImport(changed, applied(plan, store), OPTIONS).counts.update).to.equal(0);
  });

  it('never overwrites a template staff edited here, or one they wrote themselves', () => {
    const store = applied(planKohaLetterImport(letters, [], OPTIONS)).map((t) =>
      t.messageType === 'overdue' ? { ...t, text: 'Our own words', editedHere: true } : t,
    );
    store.push({
      messageType: 'predue',
      channel: 'email',
      lang: 'en',
      branchcode: 'CPL',
      subject: null,
      text: 'Branch words',
      html: null,
      importedFromKoha: false,
      editedHere: true,
    });
    const withBranch = [...letters, { ...PREDUE, branchcode: 'CPL' }];
    const plan = planKohaLetterImport(withBranch, store, OPTIONS);
    expect(plan.templates.map((t) => `${t.place.messageType}/${t.place.branchcode}: ${t.action}`)).to.deep.equal([
      'hold_waiting/: unchanged',
      'overdue/: keep',
      'predue/: unchanged',
      'predue/CPL: keep',
      'welcome/: unchanged',
    ]);
    expect(templateFor(plan, 'overdue', 'email').reason).to.equal(
      'staff edited this template after it was imported; it is never overwritten',
    );
    expect(plan.templates.find((t) => t.place.branchcode === 'CPL')?.reason).to.equal(
      'staff wrote this template here; it is never overwritten',
    );
  });

  it('uses one letter per variant and says which it left unused', () => {
    const plan = planKohaLetterImport([ODUE, { ...ODUE2, code: 'OVERDUE_A' }], [], {
      ...OPTIONS,
      overdueLevels: new Map([['OVERDUE_A', [1]]]),
    });
    expect(plan.templates).to.have.length(1);
    expect(plan.notes).to.deep.equal([
      'circulation/OVERDUE_A (email, default, every branch): not used: circulation/ODUE (email, default, every branch) already gives this template for level == 1',
    ]);
  });
});
