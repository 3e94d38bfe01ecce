/**
 * The pictures of what staff see, for the README: the dashboard and the
 * template editor, taken in the same headless Chromium as the browser tests,
 * on the small test library after one overdue run was approved and sent.
 * Run by hand when the pages change: `npx tsx test/browser/screenshots.ts`
 * (writes docs/screenshots/dashboard.png and template-editor.png).
 */
import path from 'node:path';
import { openBrowser } from '../support/browser';
import { startStaffSidecar } from '../integration/web-support';
import { dropAllScratchDatabases } from '../support/db';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

const OUT = path.resolve(__dirname, '..', '..', 'docs', 'screenshots');

async function main(): Promise<void> {
  const sidecar = await startStaffSidecar('screenshots', {
    karin: {
      userid: 'karin',
      surname: 'Lindqvist',
      firstname: 'Karin',
      modules: ['superlibrarian'],
      branchcode: 'CPL',
      categorycode: 'PT',
    },
  });
  const browser = await openBrowser();
  const { page } = browser;
  const url = (p: string) => `${sidecar.running.url}${p}`;
  try {
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(url('/signin'));
    await page.getByLabel('User name or card number').fill('karin');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');

    // One run approved and sent, so the dashboard has figures.
    await page.goto(url('/routines'));
    await page.getByRole('link', { name: 'Overdue notices' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Approve and send' }).click();
    await page.waitForSelector('.alert-success');
    await sidecar.running.services.worker.deliverOnce();

    await page.goto(url('/dashboard'));
    // A day of the chart in focus shows its figures, as a keyboard user sees them.
    await page.locator('.chart-day').last().focus();
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: false });

    await page.goto(url('/templates/edit?type=overdue&channel=email&lang=en'));
    await page.getByLabel('A patron: name or card number').fill('Müller');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForLoadState('load');
    await page.getByLabel(/^Jürgen Müller/).check();
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.waitForLoadState('load');
    await page.screenshot({ path: path.join(OUT, 'template-editor.png'), fullPage: true });
  } finally {
    await browser.close();
    await sidecar.stop();
    await dropAllScratchDatabases();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
