/**
 * The address check every sender, reply-to, return path and copy address
 * passes, on a corpus of good and bad addresses, and the order in which a
 * branch's addresses are chosen.
 */
import { expect } from 'chai';
import { ADDRESS_PROBLEM_TEXT, branchAddresses, checkAddress, checkSender, type AddressProblem } from '../../sidecar/addresses';
import { messageIdFor } from '../../sidecar/kernel';

const GOOD: Array<[string, string]> = [
  ['library@example.org', 'library@example.org'],
  ['  library@example.org  ', 'library@example.org'],
  ['first.last+notices@mail.bibliotek.example.se', 'first.last+notices@mail.bibliotek.example.se'],
  ["o'brien@library.example.ie", "o'brien@library.example.ie"],
  ['Library@Example.ORG', 'Library@example.org'],
  ['bibliotek@bibliotekå.example', 'bibliotek@xn--bibliotek-e3a.example'],
  ['info@münchen.example', 'info@xn--mnchen-3ya.example'],
  [`${'a'.repeat(64)}@example.org`, `${'a'.repeat(64)}@example.org`],
];

const BAD: Array<[string, AddressProblem]> = [
  ['ffl@bib.example\r\nBcc: victim@evil.example', 'control_character'],
  ['x@y\r\nBcc: victim@evil.example', 'control_character'],
  ['ffl@bib.example\n', 'control_character'],
  ['ffl@bib.example\r', 'control_character'],
  ['ffl@bib\u0000.example', 'control_character'],
  ['ffl@bib.example\u2028Bcc: a@b.example', 'control_character'],
  ['ffl\t@bib.example', 'control_character'],
  ['', 'empty'],
  ['   ', 'empty'],
  ['a@example.org, b@example.org', 'several_addresses'],
  ['a@example.org;b@example.org', 'several_addresses'],
  ['a@example.org b@example.org', 'several_addresses'],
  ['undisclosed-recipients:;', 'group'],
  ['staff: a@example.org, b@example.org;', 'group'],
  ['"Library" <library@example.org>', 'display_name'],
  ['Library <library@example.org>', 'display_name'],
  ['<library@example.org>', 'display_name'],
  ['library@example.org (Library)', 'display_name'],
  ['"john"@example.org', 'quoted_local_part'],
  ['"john doe"@example.org', 'quoted_local_part'],
  ['"a@b"@example.org', 'quoted_local_part'],
  ['library.example.org', 'no_at_sign'],
  ['@example.org', 'local_part'],
  ['a..b@example.org', 'local_part'],
  ['.a@example.org', 'local_part'],
  ['jörg@example.de', 'local_part'],
  ['a@b@example.org', 'local_part'],
  ['library@', 'domain'],
  ['library@-example.org', 'domain'],
  ['library@exa_mple.org', 'domain'],
  ['library@[127.0.0.1]', 'domain'],
  ['library@1.2.3.4', 'domain'],
  ['library@example..org', 'domain'],
  ['library@localhost', 'domain_without_dot'],
  [`${'a'.repeat(65)}@example.org`, 'too_long'],
  [`a@${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(62)}.${'e'.repeat(62)}.org`, 'too_long'],
  [`${'a'.repeat(60)}@${Array.from({ length: 5 }, () => 'x'.repeat(50)).join('.')}.example`, 'too_long'],
  [`${'a'.repeat(330)}@example.org`, 'too_long'],
];

describe('the address check', () => {
  for (const [given, expected] of GOOD) {
    it(`takes ${JSON.stringify(given).slice(0, 60)}`, () => {
      expect(checkAddress(given)).to.deep.equal({ ok: true, address: expected });
    });
  }
  for (const [given, problem] of BAD) {
    it(`refuses ${JSON.stringify(given).slice(0, 60)} (${problem})`, () => {
      expect(checkAddress(given)).to.deep.equal({ ok: false, problem });
    });
  }

  it('takes a dotless domain only when asked to', () => {
    expect(checkAddress('kmc@localhost', { allowDotlessDomain: true })).to.deep.equal({ ok: true, address: 'kmc@localhost' });
  });

  it('has a text for every reason', () => {
    for (const [, problem] of BAD) expect(ADDRESS_PROBLEM_TEXT[problem]).to.be.a('string').and.not.empty;
  });

  it('never lets a line break reach a Message-ID', () => {
    expect(messageIdFor(7, 'ffl@bib.example\r\nBcc: victim@evil.example')).to.match(/^<kmc\.7\.[0-9a-f]{12}@kmc\.invalid>$/);
    expect(messageIdFor(7, 'x@y\r\nBcc: victim@evil.example')).to.match(/@kmc\.invalid>$/);
    expect(messageIdFor(7, 'ffl@Bib.Example')).to.match(/^<kmc\.7\.[0-9a-f]{12}@bib\.example>$/);
  });
});

describe("a branch's addresses", () => {
  const none = { KohaAdminEmailAddress: null, ReplytoDefault: null, ReturnpathDefault: null };
  const bad = 'x@y\r\nBcc: victim@evil.example';

  it('takes the branch setting first, then the branch record, then the system preference, then KMC_MAIL_FROM', () => {
    const prefs = {
      KohaAdminEmailAddress: 'admin@koha.example',
      ReplytoDefault: 'replies@koha.example',
      ReturnpathDefault: 'rp@koha.example',
    };
    const branch = { branchemail: 'branch@lib.example', branchreplyto: 'reply@lib.example', branchreturnpath: 'return@lib.example' };
    const own = { sender_email: 'own@lib.example', reply_to: 'ownreply@lib.example' };
    const at = (s: Parameters<typeof branchAddresses>[0]) => {
      const a = branchAddresses(s);
      return [
        a.sender.address,
        a.sender.source?.name,
        a.replyTo.address,
        a.replyTo.source?.name,
        a.returnPath.address,
        a.returnPath.source?.name,
      ];
    };
    expect(at({ own, branch, preferences: prefs, mailFrom: 'kmc@lib.example' })).to.deep.equal([
      'own@lib.example',
      'sender_email',
      'ownreply@lib.example',
      'reply_to',
      'return@lib.example',
      'branchreturnpath',
    ]);
    expect(at({ own: null, branch, preferences: prefs, mailFrom: 'kmc@lib.example' })).to.deep.equal([
      'branch@lib.example',
      'branchemail',
      'reply@lib.example',
      'branchreplyto',
      'return@lib.example',
      'branchreturnpath',
    ]);
    expect(at({ own: null, branch: null, preferences: prefs, mailFrom: 'kmc@lib.example' })).to.deep.equal([
      'admin@koha.example',
      'KohaAdminEmailAddress',
      'replies@koha.example',
      'ReplytoDefault',
      'rp@koha.example',
      'ReturnpathDefault',
    ]);
    expect(at({ own: null, branch: null, preferences: none, mailFrom: 'kmc@lib.example' })).to.deep.equal([
      'kmc@lib.example',
      'KMC_MAIL_FROM',
      null,
      undefined,
      null,
      undefined,
    ]);
  });

  it('passes over a refused candidate, keeping its reason, and never uses it', () => {
    const a = branchAddresses({
      own: { sender_email: null, reply_to: '' },
      branch: { branchemail: bad, branchreplyto: 'a@x.example, b@y.example', branchreturnpath: 'Return <r@lib.example>' },
      preferences: { KohaAdminEmailAddress: 'admin@koha.example', ReplytoDefault: 'replies@koha', ReturnpathDefault: null },
      mailFrom: 'kmc@lib.example',
    });
    expect(a.sender.address).to.equal('admin@koha.example');
    expect(a.sender.refused.map((r) => [r.candidate.name, r.problem])).to.deep.equal([['branchemail', 'control_character']]);
    expect(a.replyTo.address).to.equal(null);
    expect(a.replyTo.refused.map((r) => [r.candidate.name, r.problem])).to.deep.equal([
      ['branchreplyto', 'several_addresses'],
      ['ReplytoDefault', 'domain_without_dot'],
    ]);
    expect(a.returnPath.address).to.equal(null);
    expect(a.returnPath.refused.map((r) => [r.candidate.name, r.problem])).to.deep.equal([['branchreturnpath', 'display_name']]);
  });
});

describe('the sender check', () => {
  const good: Array<[string, string, string | null]> = [
    ['library@example.org', 'library@example.org', null],
    ['Centralbiblioteket <library@example.org>', 'library@example.org', 'Centralbiblioteket'],
    ['"Bibliotek, Nord" <nord@example.org>', 'nord@example.org', 'Bibliotek, Nord'],
    ['Łódź biblioteka <lodz@example.pl>', 'lodz@example.pl', 'Łódź biblioteka'],
    ['<bare@example.org>', 'bare@example.org', null],
  ];
  for (const [value, address, name] of good)
    it(`takes ${JSON.stringify(value)} as ${address} named ${String(name)}`, () => {
      expect(checkSender(value)).to.deep.equal({ ok: true, address, name });
    });
  const bad: Array<[string, string]> = [
    ['Library\r\nBcc: victim@evil.example <library@example.org>', 'control_character'],
    ['Library <library@example.org\r\nBcc: victim@evil.example>', 'control_character'],
    ['Library <a@example.org>, Other <b@example.org>', 'several_addresses'],
    ['Lib"rary <library@example.org>', 'display_name'],
    ['Library <not an address>', 'display_name'],
  ];
  for (const [value, problem] of bad)
    it(`refuses ${JSON.stringify(value)}`, () => {
      expect(checkSender(value)).to.deep.equal({ ok: false, problem });
    });
});
