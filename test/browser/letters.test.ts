/**
 * Printing a run's letters in a real browser (headless Chromium, a real
 * MariaDB): run a routine, send two patrons' notices as letters, approve,
 * deliver; the run's page then offers "Print letters" (a PDF) and asks, as
 * Mikromarc does, whether they printed; confirming makes them `printed`.
 * axe-core finds no serious or critical problem on the pages.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { pdfPages } from '../support/pdf';
import { staffInBrowser } from './staff-browser';

describe(`printing a run's letters in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  const w = staffInBrowser('browser_letters');

  it('prints the letters of a run from its page, confirms that they printed, and they are printed', async () => {
    await w.signIn();

    await w.page.goto(w.url('/routines'));
    await w.page.getByRole('link', { name: 'Overdue notices' }).click();
    await w.page.waitForLoadState('load');
    await w.page.getByRole('button', { name: 'Run now' }).click();
    await w.page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    const runId = Number(/\/runs\/(\d+)/.exec(w.page.url())![1]);
    const messages = await w.db.knex('kmc_messages').where({ run_id: runId });
    const asa = messages.find((m) => m.borrowernumber === w.lib.patrons.asa)!;
    const soren = messages.find((m) => m.borrowernumber === w.lib.patrons.soren)!;
    await w.page.locator(`#send-as-${asa.id}`).selectOption('print');
    await w.page.locator(`#send-as-${soren.id}`).selectOption('print');
    await w.page.getByRole('button', { name: 'Approve and send' }).click();
    await w.page.waitForSelector('.alert-success');
    await w.running.services.worker.deliverOnce();
    const letters = await w.db.knex('kmc_messages').where({ run_id: runId, channel: 'print' }).orderBy('id');
    const n = letters.length;
    expect(n).to.be.at.least(2);
    expect(letters.map((l) => l.status)).to.deep.equal(letters.map(() => 'to_print'));

    await w.page.goto(w.url(`/runs/${runId}`));
    expect(await w.page.locator('#letters-to-print').innerText()).to.contain(`${n} letter(s) wait to be printed.`);
    await w.expectAccessible(w.page);

    // "Print letters" gives the PDF the browser would print.
    const href = await w.page.locator('#print-letters').getAttribute('href');
    expect(href).to.equal(`/runs/${runId}/letters.pdf?waiting=1`);
    const download = await w.page.request.get(w.url(href!));
    expect(download.headers()['content-type']).to.equal('application/pdf');
    const pages = await pdfPages(await download.body());
    expect(pages).to.have.length(n);
    expect(pages.join('\n')).to.contain('Öberg').and.contain('Søren');

    // Then: did they print? Yes.
    await w.page.getByRole('button', { name: 'Yes, mark as printed' }).click();
    await w.page.waitForSelector('.alert-success');
    expect(await w.page.locator('.alert-success').first().textContent()).to.contain(`${n} letter(s) marked as printed.`);
    expect(await w.page.locator('#letters-to-print').count()).to.equal(0);
    await w.expectAccessible(w.page);
    const after = await w.db
      .knex('kmc_messages')
      .whereIn(
        'id',
        letters.map((l) => l.id),
      )
      .pluck('status');
    expect(after).to.deep.equal(letters.map(() => 'printed'));
    const event = await w.db.knex('kmc_message_events').where({ message_id: letters[0].id }).orderBy('id', 'desc').first();
    expect(event).to.include({ status: 'printed', detail: 'printed; confirmed by Karin Lindqvist' });

    // The daily list has nothing left, and is accessible.
    await w.page.getByRole('link', { name: 'Letters to print', exact: true }).click();
    await w.page.waitForLoadState('load');
    expect(await w.page.locator('main').innerText()).to.contain('No letters wait to be printed.');
    await w.expectAccessible(w.page);
  });
});
