/**
 * The staff pages' parts that need no database: the message catalogues
 * (every word on a page is in English and Swedish, with the same
 * placeholders), the run's letters as PDF (through the letters capability),
 * and the CSP's inline styles.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { en } from '../../sidecar/web/i18n/en';
import { sv } from '../../sidecar/web/i18n/sv';
import { pickPageLang, translator } from '../../sidecar/web/i18n';
import { PAGE_TEMPLATE_DIR, inlineStyleHashes } from '../../sidecar/web';
import { renderLettersPdf } from '../../sidecar/letters';
import { MESSAGE_STATUSES } from '../../sidecar/queue';
import { MESSAGE_TYPES } from '../../sidecar/rules';
import { loadSettings } from '../../sidecar/config';
import { pdfPages } from '../support/pdf';

const WEB_DIR = path.resolve(__dirname, '../../sidecar/web');

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name), ext) : e.name.endsWith(ext) ? [path.join(dir, e.name)] : [],
  );
}

describe("the staff pages' message catalogues", () => {
  const keys = Object.keys(en);

  it('has every key a page template or a page module asks for', () => {
    const used = new Set<string>();
    for (const f of [...filesUnder(PAGE_TEMPLATE_DIR, '.njk'), ...filesUnder(WEB_DIR, '.ts')]) {
      const text = readFileSync(f, 'utf8');
      // Whole keys only: t('status.' + s) is a prefix, checked below with the values it takes.
      for (const m of text.matchAll(/\bt\('([a-z_]+(?:\.[a-z_]+)+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/(?:label|text): '([a-z_]+(?:\.[a-z_]+)+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/fail\(req, res, \d+, '([a-z_]+(?:\.[a-z_]+)+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/done=([a-z_]+\.[a-z_]+)/g)) used.add(m[1]);
    }
    expect(used.size).to.be.greaterThan(150);
    const missing = [...used].filter((k) => !(k in en));
    expect(missing).to.deep.equal([]);
  });

  it('names every status, message type and channel in both languages', () => {
    const wanted = [
      ...MESSAGE_STATUSES.map((s) => `status.${s}`),
      ...MESSAGE_TYPES.map((t) => `type.${t}`),
      ...['email', 'sms', 'print'].map((c) => `channel.${c}`),
      ...['running', 'finished', 'failed'].map((s) => `run.status.${s}`),
      ...['verified', 'pending', 'expired', 'exempt', 'none'].map((s) => `verification.${s}`),
      ...['format', 'signature', 'expired', 'too_far_ahead', 'used', 'not_staff'].map((r) => `launch.refused.${r}`),
    ];
    for (const k of wanted) {
      expect(en, k).to.have.property(k);
      expect(sv, k).to.have.property(k);
    }
  });

  it('Swedish has exactly the English keys, is written in Swedish, and keeps every placeholder', () => {
    expect(Object.keys(sv).sort()).to.deep.equal([...keys].sort());
    const same = keys.filter((k) => (sv as Record<string, string>)[k] === (en as Record<string, string>)[k]);
    // Words that are the same in both: SMS, Status, Message-ID, the language names, and the word order of a
    // skip count ("{n} {what} {reason}"), which has no words of its own.
    expect(same.sort()).to.deep.equal([
      'channel.sms',
      'field.status',
      'lang.da',
      'lang.de',
      'lang.en',
      'lang.sv',
      'message.message_id',
      'run.why',
    ]);
    for (const k of keys) {
      const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(params((sv as Record<string, string>)[k]), k).to.deep.equal(params((en as Record<string, string>)[k]));
    }
  });

  it("fills in values, and picks the language from Koha's codes", () => {
    expect(translator('sv')('run.approved', { n: 3 })).to.equal('Körningen godkändes: 3 meddelande(n) köades.');
    expect(translator('en')('no.such.key')).to.equal('no.such.key');
    expect(pickPageLang('sv-SE')).to.equal('sv');
    // Danish and German pages too (issue 12); a language without pages falls through to the next, then English.
    expect(pickPageLang(null, 'da-DK,sv;q=0.8')).to.equal('da');
    expect(pickPageLang('de-DE', 'fr')).to.equal('de');
    expect(pickPageLang('fr-FR', 'nb,sv;q=0.8')).to.equal('sv');
    expect(pickPageLang('fr-FR', 'nb')).to.equal('en');
  });
});

describe("the run's letters as PDF", () => {
  const letter = (n: number, lang: string | null) => ({
    messageId: n,
    branchLines: ['Centralbiblioteket', 'Storgatan 1', '111 22 Stockholm'],
    recipientLines: ['Åsa Öberg', 'Ängsvägen 3', '123 45 Solna'],
    date: '2026-11-24',
    subject: 'Påminnelse (krav) \\ 1',
    body: 'Hej Åsa!\n\nRöda rummet (Strindberg) ska lämnas tillbaka.',
    lang,
  });

  it("prints each letter's labels and footer in the patron's language, not the staff member's", async () => {
    // The staff member reads English; the patrons read Swedish, German, and (no language) the document's.
    const pdf = await renderLettersPdf([letter(1, 'sv-SE'), letter(2, 'de'), letter(3, null)], {
      title: 'Letters',
      lang: 'en',
      country: 'SE',
    });
    const pages = await pdfPages(pdf);
    expect(pages).to.have.length(3);
    expect(pages[0]).to.contain('Meddelande 1').and.contain('Sida 1 av 1').and.contain('Åsa Öberg');
    expect(pages[0]).not.to.contain('Message 1');
    expect(pages[1]).to.contain('Nachricht 2').and.contain('Seite 1 von 1');
    expect(pages[2]).to.contain('Message 3').and.contain('Page 1 of 1');
    expect(pages[0]).to.contain('Påminnelse (krav) \\ 1');
  });

  it('continues a letter too long for one page on the next, marked in its language', async () => {
    const body = Array.from({ length: 80 }, (_, i) => `Rad ${i + 1}`).join('\n');
    const pages = await pdfPages(
      await renderLettersPdf([{ ...letter(9, 'sv'), subject: 'Långt brev', body }], { title: 'x', lang: 'en', country: 'SE' }),
    );
    expect(pages.length).to.be.greaterThan(1);
    expect(pages[0]).to.contain(`Sida 1 av ${pages.length}`).and.contain('Rad 1\n');
    expect(pages[1]).to.contain('Långt brev (fortsättning)').and.contain(`Sida 2 av ${pages.length}`);
  });

  it('makes a one-page document even with nothing in it', async () => {
    expect(await pdfPages(await renderLettersPdf([], { title: 'x', lang: 'sv', country: 'SE' }))).to.have.length(1);
  });
});

describe('the content security policy', () => {
  it('allows exactly the static <style> blocks of the page templates, by hash', () => {
    const verify = readFileSync(path.join(PAGE_TEMPLATE_DIR, 'verify.njk'), 'utf8');
    const block = /<style>([\s\S]*?)<\/style>/.exec(verify)![1];
    const hash = `'sha256-${createHash('sha256').update(block, 'utf8').digest('base64')}'`;
    expect(inlineStyleHashes()).to.include(hash);
  });
});

describe("the staff pages' settings", () => {
  const base = { KMC_DATABASE_URL: 'mysql://root@127.0.0.1:3306/koha' };
  // Behind a proxy the public development secret is refused: these settings bring their own.
  const PROXIED_SECRET = 'a secret of our own, long enough to sign';
  const refused = (env: Record<string, string>, setting: string) => {
    expect(() => loadSettings({ ...base, ...env }))
      .to.throw(new RegExp(`^${setting}: `))
      .with.property('code', 'KMC_SETTINGS_INVALID');
  };

  it('reads the Koha staff origins, the session times, the retention and the proxy', () => {
    const s = loadSettings({
      ...base,
      KMC_KOHA_STAFF_ORIGIN: 'https://staff.library.example, http://intra.library.example:8080/',
      KMC_SESSION_IDLE_MINUTES: '20',
      KMC_SESSION_MAX_HOURS: '9',
      KMC_RETENTION_DAYS: '90',
      KMC_ANONYMISE_AT: '02:15',
      KMC_TRUST_PROXY: 'loopback, 10.0.0.0/8',
      KMC_SECRET: PROXIED_SECRET,
    });
    expect(s.kohaStaffOrigins).to.deep.equal(['https://staff.library.example', 'http://intra.library.example:8080']);
    expect(s).to.include({
      sessionIdleMinutes: 20,
      sessionMaxHours: 9,
      retentionDays: 90,
      anonymiseAt: '02:15',
      trustProxy: 'loopback, 10.0.0.0/8',
    });
    const d = loadSettings(base);
    expect(d).to.include({ sessionIdleMinutes: 60, sessionMaxHours: 12, retentionDays: 365, anonymiseAt: '03:30', trustProxy: false });
    expect(d.kohaStaffOrigins).to.deep.equal([]);
    expect(loadSettings({ ...base, KMC_TRUST_PROXY: '1', KMC_SECRET: PROXIED_SECRET }).trustProxy).to.equal(1);
  });

  it('refuses bad values, naming the setting', () => {
    refused({ KMC_KOHA_STAFF_ORIGIN: 'https://staff.library.example/cgi-bin/koha' }, 'KMC_KOHA_STAFF_ORIGIN');
    refused({ KMC_KOHA_STAFF_ORIGIN: 'staff.library.example' }, 'KMC_KOHA_STAFF_ORIGIN');
    refused({ KMC_KOHA_STAFF_ORIGIN: "https://x.example; script-src 'unsafe-inline'" }, 'KMC_KOHA_STAFF_ORIGIN');
    refused({ KMC_RETENTION_DAYS: '0' }, 'KMC_RETENTION_DAYS');
    refused({ KMC_RETENTION_DAYS: 'a year' }, 'KMC_RETENTION_DAYS');
    refused({ KMC_ANONYMISE_AT: '25:00' }, 'KMC_ANONYMISE_AT');
    refused({ KMC_SESSION_IDLE_MINUTES: '600', KMC_SESSION_MAX_HOURS: '2' }, 'KMC_SESSION_IDLE_MINUTES');
    refused({ KMC_TRUST_PROXY: 'everyone!' }, 'KMC_TRUST_PROXY');
  });
});
