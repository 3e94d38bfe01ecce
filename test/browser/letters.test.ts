/**
 * Printing a run's letters in a real browser (headless Chromium, a real
 * MariaDB): run a routine, send two patrons' notices as letters, approve,
 * deliver; the run's page then offers "Print letters" (a PDF) and asks, as
 * Mikromarc does, whether they printed; confirming makes them `printed`.
 * axe-core finds no serious or critical problem on the pages.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, seriousAxeProblems, type OpenBrowser } from '../support/browser';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import { pdfPages } from '../support/pdf';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

describe(`printing a run's letters in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let sidecar: StaffSidecar | undefined;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let browser: OpenBrowser | undefined;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    sidecar = await startStaffSidecar('browser_letters', {
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

  it('prints the letters of a run from its page, confirms that they printed, and they are printed', async () => {
    await context.clearCookies();
    await page.goto(url('/signin'));
    await page.getByLabel('User name or card number').fill('karin');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');

    await page.goto(url('/routines'));
    await page.getByRole('link', { name: 'Overdue notices' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    const runId = Number(/\/runs\/(\d+)/.exec(page.url())![1]);
    const messages = await db.knex('kmc_messages').where({ run_id: runId });
    const asa = messages.find((m) => m.borrowernumber === lib.patrons.asa)!;
    const soren = messages.find((m) => m.borrowernumber === lib.patrons.soren)!;
    await page.locator(`#send-as-${asa.id}`).selectOption('print');
    await page.locator(`#send-as-${soren.id}`).selectOption('print');
    await page.getByRole('button', { name: 'Approve and send' }).click();
    await page.waitForSelector('.alert-success');
    await running.services.worker.deliverOnce();
    const letters = await db.knex('kmc_messages').where({ run_id: runId, channel: 'print' }).orderBy('id');
    const n = letters.length;
    expect(n).to.be.at.least(2);
    expect(letters.map((l) => l.status)).to.deep.equal(letters.map(() => 'to_print'));

    await page.goto(url(`/runs/${runId}`));
    expect(await page.locator('#letters-to-print').innerText()).to.contain(`${n} letter(s) wait to be printed.`);
    await expectAccessible(page);

    // "Print letters" gives the PDF the browser would print.
    const href = await page.locator('#print-letters').getAttribute('href');
    expect(href).to.equal(`/runs/${runId}/letters.pdf?waiting=1`);
    const download = await page.request.get(url(href!));
    expect(download.headers()['content-type']).to.equal('application/pdf');
    const pages = await pdfPages(await download.body());
    expect(pages).to.have.length(n);
    expect(pages.join('\n')).to.contain('Öberg').and.contain('Søren');

    // Then: did they print? Yes.
    await page.getByRole('button', { name: 'Yes, mark as printed' }).click();
    await page.waitForSelector('.alert-success');
    expect(await page.locator('.alert-success').first().textContent()).to.contain(`${n} letter(s) marked as printed.`);
    expect(await page.locator('#letters-to-print').count()).to.equal(0);
    await expectAccessible(page);
    const after = await db
      .knex('kmc_messages')
      .whereIn(
        'id',
        letters.map((l) => l.id),
      )
      .pluck('status');
    expect(after).to.deep.equal(letters.map(() => 'printed'));
    const event = await db.knex('kmc_message_events').where({ message_id: letters[0].id }).orderBy('id', 'desc').first();
    expect(event).to.include({ status: 'printed', detail: 'printed; confirmed by Karin Lindqvist' });

    // The daily list has nothing left, and is accessible.
    await page.getByRole('link', { name: 'Letters to print', exact: true }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('main').innerText()).to.contain('No letters wait to be printed.');
    await expectAccessible(page);
  });
});
