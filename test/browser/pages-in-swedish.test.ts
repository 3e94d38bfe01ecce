/**
 * Every staff page shown in Swedish, then in Danish and German, in headless Chromium against a sidecar
 * with a real MariaDB and SMTP server on loopback, carries no text of the
 * English catalogue: a run reviewed and approved, a message that failed and
 * one without contact data, the audit record, rules, templates, settings,
 * the dashboard, the sign-in page. Names and data may be in any language;
 * texts both catalogues word alike are allowed (test/support/catalogue-leaks.ts).
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, type OpenBrowser } from '../support/browser';
import { englishLeaks } from '../support/catalogue-leaks';
import type { PageLang } from '../../sidecar/web/i18n';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { SmallLibrary } from '../support/library';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

describe(`the staff pages in Swedish (and Danish and German) carry no English catalogue text (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(300_000);
  let sidecar: StaffSidecar | undefined;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let browser: OpenBrowser | undefined;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    sidecar = await startStaffSidecar(
      'browser_sv',
      {
        admin: { userid: 'admin', surname: 'Berg', firstname: 'Karin', modules: ['superlibrarian'], branchcode: 'CPL', categorycode: 'PT' },
      },
      { at: '2026-11-24T05:00:00Z' },
    );
    ({ db, lib, running } = sidecar);
    browser = await openBrowser();
    ({ context, page } = browser);
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  const url = (p: string) => `${running.url}${p}`;

  /** What a reader of the page meets: its text, and the labels, titles and placeholders only some see. */
  async function textOf(p: Page): Promise<string> {
    return p.evaluate(() => {
      const lang = document.documentElement.lang;
      // The language switch names the other language in that language.
      for (const el of Array.from(document.querySelectorAll('[lang]')))
        if (el !== document.documentElement && (el as HTMLElement).lang !== lang) el.remove();
      // Template code and placeholder names are data: the same in every language.
      for (const el of Array.from(document.querySelectorAll('code, pre, textarea'))) el.remove();
      const attrs = Array.from(
        document.querySelectorAll('[title],[aria-label],[placeholder],[alt],input[type=submit],input[type=button]'),
      ).flatMap((el) =>
        ['title', 'aria-label', 'placeholder', 'alt', 'value'].map((a) =>
          a === 'value' && el.tagName !== 'INPUT' ? '' : (el.getAttribute(a) ?? ''),
        ),
      );
      const options = Array.from(document.querySelectorAll('option')).map((o) => o.text);
      return [document.title, document.body.innerText, ...attrs, ...options].join('\n');
    });
  }

  /** The English texts found, by page: every page is looked at before the test tells. */
  const found: Record<string, string[]> = {};
  async function look(where: string, lang: PageLang = 'sv'): Promise<void> {
    const pageText = await textOf(page);
    const leaks = englishLeaks(pageText, lang);
    // What the sidecar records, shown as recorded: a staff number for a name, JSON for words.
    for (const raw of pageText.match(/\bstaff:\d+|\bsmsc:\S*|\{"\w+":/g) ?? []) leaks.push(`recorded form: ${raw}`);
    if (leaks.length > 0) found[`${lang} ${where}`] = leaks;
  }

  async function expectIn(lang: PageLang, p: string): Promise<void> {
    await page.goto(url(p));
    expect(await page.locator('html').getAttribute('lang'), p).to.equal(lang);
    await look(p, lang);
  }

  it('shows every page without a text of the English catalogue', async () => {
    await context.clearCookies();
    await page.goto(url('/signin?lang=sv'));
    await look('/signin');
    await page.getByLabel('Användarnamn eller kortnummer').fill('admin');
    await page.getByLabel('Lösenord').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Logga in' }).click();
    await page.waitForLoadState('load');
    if ((await page.locator('html').getAttribute('lang')) !== 'sv') {
      await page.getByRole('button', { name: 'Svenska' }).click();
      await page.waitForLoadState('load');
    }

    // A patron without an e-mail address: the run leaves them missing contact data.
    await db
      .knex('borrowers')
      .where({ borrowernumber: lib.patrons.soren })
      .update({ email: null, emailpro: null, B_email: null, smsalertnumber: null, phone: null, mobile: null });
    const routine = await db.knex('kmc_routines').where({ message_type: 'overdue' }).first('id');
    await page.goto(url(`/routines/${routine.id}`));
    await page.getByRole('button', { name: 'Kör nu' }).click();
    await page.waitForSelector('input[name="keep"]', { timeout: 60_000 });
    const proposed = Number(/\/runs\/(\d+)/.exec(page.url())![1]);
    await look('the proposed run');
    await page.locator('input[name="keep"]').first().uncheck();
    await page.getByRole('button', { name: 'Godkänn och skicka' }).click();
    await page.waitForSelector('.alert-success');
    await look('the approved run');

    const message = await db.knex('kmc_messages').orderBy('id').first('id');
    await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.anna }).update({ status: 'failed', status_reason: 'SMTP 550' });
    const rule = await db.knex('kmc_rules').first('id');
    const paths = [
      '/dashboard',
      '/routines',
      '/routines?type=overdue',
      '/routines/new',
      `/routines/${routine.id}`,
      '/runs',
      '/runs?waiting=1',
      `/runs/${proposed}`,
      `/runs/${proposed}/items`,
      `/runs/${proposed}/pick-list`,
      `/runs/${proposed}/sms-errors`,
      '/archive',
      '/archive?q=Öberg&channel=email',
      `/archive/${message.id}`,
      `/archive/${message.id}/print`,
      `/patrons/${lib.patrons.asa}/messages`,
      `/patrons/${lib.patrons.soren}/messages`,
      '/queue',
      '/audit',
      '/rules',
      '/rules/new',
      `/rules/${rule.id}`,
      '/templates',
      '/templates/edit?type=overdue&channel=email&lang=sv',
      '/templates/edit?type=overdue&channel=sms&lang=sv',
      '/settings',
      '/settings?branch=CPL',
      '/no-such-page',
    ];
    for (const p of paths) await expectIn('sv', p);
    // The same pages in Danish and German, chosen with the language buttons.
    for (const [lang, name] of [
      ['da', 'Dansk'],
      ['de', 'Deutsch'],
    ] as const) {
      await page.goto(url('/dashboard'));
      await page.getByRole('button', { name }).click();
      await page.waitForLoadState('load');
      for (const p of paths) await expectIn(lang, p);
    }
    // A refused launch link, signed out.
    await context.clearCookies();
    await page.goto(url('/launch?token=v1.1.2.3.4&lang=sv'));
    await look('/launch');
    expect(found).to.deep.equal({});
  });
});
