/**
 * What staff choose on the pages, in a real browser (headless Chromium, a
 * real MariaDB, SMTP on loopback, no SMS account): "send as" in a run's
 * review offers only channels that can reach each patron now. axe-core finds
 * no serious or critical problem on the pages.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, seriousAxeProblems, type OpenBrowser } from '../support/browser';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

describe(`staff choices in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let sidecar: StaffSidecar | undefined;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let browser: OpenBrowser | undefined;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    sidecar = await startStaffSidecar('browser_choices', {
      karin: {
        userid: 'karin',
        surname: 'Lindqvist',
        firstname: 'Karin',
        modules: ['superlibrarian'],
        branchcode: 'CPL',
        categorycode: 'PT',
      },
    });
    ({ db, lib, running } = sidecar);
    browser = await openBrowser();
    ({ context, page } = browser);
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  const url = (p: string) => `${running.url}${p}`;

  async function expectAccessible(p: Page): Promise<void> {
    expect(await seriousAxeProblems(p), p.url()).to.deep.equal([]);
  }

  async function signIn(): Promise<void> {
    await context.clearCookies();
    await page.goto(url('/signin'));
    await page.getByLabel('User name or card number').fill('karin');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');
  }

  const optionsOf = (id: number) =>
    page.locator(`#send-as-${id} option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));

  it('a run without an SMS account offers no SMS, and e-mail only to patrons with a usable address', async () => {
    await signIn();
    await page.goto(url('/routines'));
    await page.getByRole('link', { name: 'Overdue notices' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    const runId = Number(/\/runs\/(\d+)/.exec(page.url())![1]);
    const messages = await db.knex('kmc_messages').where({ run_id: runId });
    const of = (n: number) => messages.find((m) => m.borrowernumber === n)!;
    const asa = of(lib.patrons.asa);
    const soren = of(lib.patrons.soren);
    const anna = of(lib.patrons.anna);

    // Åsa has an address: e-mail or a letter. Søren has none and Anna's cannot be used: a letter only.
    expect(await optionsOf(asa.id)).to.deep.equal(['email', 'print']);
    expect(await optionsOf(soren.id)).to.deep.equal(soren.channel === 'print' ? ['print'] : ['', 'print']);
    expect(await optionsOf(anna.id)).to.deep.equal(anna.channel === 'print' ? ['print'] : ['', 'print']);
    expect(await page.locator('select[name^="send_as_"] option[value="sms"]').count()).to.equal(0);
    expect(await page.locator('#send-as-hint').innerText()).to.contain('SMS needs');
    await expectAccessible(page);

    // A channel the page did not offer, posted all the same, is not taken.
    await page.locator(`#send-as-${asa.id}`).evaluate((el) => {
      const o = document.createElement('option');
      o.value = 'sms';
      o.textContent = 'SMS';
      el.appendChild(o);
      (el as HTMLSelectElement).value = 'sms';
    });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForLoadState('load');
    const review = await db.knex('kmc_review_messages').where({ message_id: asa.id }).first();
    expect(review?.send_as ?? null).to.equal(null);
    await page.locator(`#send-as-${asa.id}`).selectOption('print');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForLoadState('load');
    expect((await db.knex('kmc_review_messages').where({ message_id: asa.id }).first()).send_as).to.equal('print');
  });
});
