/**
 * The staff pages in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against a sidecar on loopback with a real MariaDB and a
 * real SMTP server. Sign in, run a routine, untick one patron, approve, and
 * find the messages in the archive; a staff member without the permission
 * sees no routines tab; a form posted without its CSRF token is refused;
 * and axe-core finds no serious or critical accessibility problem on any page.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, seriousAxeProblems, type OpenBrowser } from '../support/browser';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { SmallLibrary } from '../support/library';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

describe(`the staff pages in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let sidecar: StaffSidecar | undefined;
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let browser: OpenBrowser | undefined;
  let context: BrowserContext;
  let page: Page;
  let dialogs: string[] = [];
  const visited = new Set<string>();

  before(async () => {
    sidecar = await startStaffSidecar(
      'browser',
      {
        karin: {
          userid: 'karin',
          surname: 'Lindqvist',
          firstname: 'Test',
          modules: ['catalogue', 'tools'],
          branchcode: 'CPL',
          categorycode: 'PT',
        },
        mads: {
          userid: 'mads',
          surname: 'Sørensen',
          firstname: 'Test',
          modules: ['catalogue', 'circulate'],
          branchcode: 'CPL',
          categorycode: 'PT',
        },
        admin: { userid: 'admin', surname: 'Admin', firstname: 'Test', modules: ['superlibrarian'], branchcode: 'CPL', categorycode: 'PT' },
      },
      { at: '2026-11-24T05:00:00Z' },
    );
    ({ db, lib, running } = sidecar);
    // A patron whose name is a script: a dialog would mean it ran.
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.jurgen }).update({ firstname: '<script>alert(1)</script>' });
    browser = await openBrowser();
    ({ context, page, dialogs } = browser);
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  const url = (p: string) => `${running.url}${p}`;

  async function expectAccessible(p: Page): Promise<void> {
    visited.add(new URL(p.url()).pathname);
    expect(await seriousAxeProblems(p), p.url()).to.deep.equal([]);
  }

  async function signIn(userid: string): Promise<void> {
    await context.clearCookies();
    await page.goto(url('/signin'));
    await expectAccessible(page);
    await page.getByLabel('User name or card number').fill(userid);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');
  }

  it('signs in, runs a routine, unticks one patron, approves, and finds the messages in the archive', async () => {
    await signIn('karin');
    expect(new URL(page.url()).pathname).to.equal('/routines');
    await expectAccessible(page);

    await page.getByRole('link', { name: 'Overdue notices' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('h1').innerText()).to.equal('Routine: Overdue notices');
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Run now' }).click();
    // The run page follows the run by itself and shows the review when it is done.
    await page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    expect(await page.locator('input[name="keep"]').count()).to.equal(4);
    await expectAccessible(page);

    const jurgen = page.getByRole('checkbox', { name: 'Send to <script>alert(1)</script> Müller' });
    expect(await jurgen.isChecked()).to.equal(true);
    await jurgen.uncheck();
    await page.getByRole('button', { name: 'Approve and send' }).click();
    await page.waitForSelector('.alert-success');
    expect(await page.locator('.alert-success').first().textContent()).to.contain('The run was approved: 3 message(s) queued.');
    await expectAccessible(page);

    const statuses = await db.knex('kmc_messages').orderBy('borrowernumber').select('borrowernumber', 'status');
    expect(statuses.find((m) => m.borrowernumber === lib.patrons.jurgen)!.status).to.equal('cancelled');
    expect(statuses.filter((m) => m.status === 'pending')).to.have.length(3);

    await page.getByRole('link', { name: 'Archive' }).click();
    await page.waitForLoadState('load');
    const rows = page.locator('main table tbody tr');
    expect(await rows.count()).to.equal(4);
    const text = await page.locator('main table').innerText();
    expect(text).to.contain('Cancelled').and.to.contain('Pending').and.to.contain('<script>alert(1)</script> Müller');
    await expectAccessible(page);
    expect(dialogs).to.deep.equal([]);
  });

  it('a staff member without the permission sees no routines tab, and the routines page answers 403', async () => {
    await signIn('mads');
    const tabs = await page.locator('header nav a').allInnerTexts();
    expect(tabs).to.deep.equal(['Archive', 'Message queue', 'Letters to print', 'Dashboard']);
    const res = await page.goto(url('/routines'));
    expect(res!.status()).to.equal(403);
    expect(await page.locator('main').innerText()).to.contain('Your Koha permissions do not allow this page.');
    await expectAccessible(page);
  });

  it('refuses a form posted without its CSRF token', async () => {
    await signIn('mads');
    await page.goto(url('/queue'));
    // Take the token out of the sign-out form and send it.
    await page.evaluate(() => {
      const form = document.querySelector('form[action="/signout"]') as HTMLFormElement;
      form.querySelector('input[name="_csrf"]')!.remove();
    });
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(await page.locator('main').innerText()).to.contain('The form has expired or did not come from this page.');
    // Still signed in: the refused form changed nothing.
    const after = await page.goto(url('/queue'));
    expect(after!.status()).to.equal(200);
    expect(new URL(page.url()).pathname).to.equal('/queue');
  });

  it('axe-core finds no serious or critical problem on any page', async () => {
    await signIn('admin');
    const run = await db.knex('kmc_runs').orderBy('id', 'desc').first('id');
    const message = await db.knex('kmc_messages').orderBy('id').first('id');
    await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.anna }).update({ status: 'failed', status_reason: 'SMTP 550' });
    const paths = [
      '/routines',
      '/routines?type=overdue',
      '/routines/new',
      '/runs',
      '/runs?waiting=1',
      `/runs/${run.id}`,
      `/runs/${run.id}/items`,
      `/runs/${run.id}/pick-list`,
      `/runs/${run.id}/sms-errors`,
      '/archive',
      '/archive?q=Öberg&channel=email',
      `/archive/${message.id}`,
      `/archive/${message.id}/print`,
      `/patrons/${lib.patrons.asa}/messages`,
      '/queue',
      '/audit',
      '/no-such-page',
    ];
    const routine = await db.knex('kmc_routines').first('id');
    paths.push(`/routines/${routine.id}`);
    for (const p of paths) {
      await page.goto(url(p));
      await expectAccessible(page);
    }
    // And in Swedish.
    await page.getByRole('button', { name: 'Svenska' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('html').getAttribute('lang')).to.equal('sv');
    await page.goto(url('/queue'));
    expect(await page.locator('h1').innerText()).to.equal('Meddelandekö');
    await expectAccessible(page);
    // The sign-in page and a refused launch link, signed out.
    await context.clearCookies();
    await page.goto(url('/launch?token=v1.1.2.3.4'));
    await expectAccessible(page);
    expect(visited.size).to.be.at.least(18);
    expect(dialogs).to.deep.equal([]);
  });
});
