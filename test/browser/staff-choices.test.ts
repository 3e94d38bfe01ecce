/**
 * What staff choose on the pages, in a real browser (headless Chromium, a
 * real MariaDB, SMTP on loopback, no SMS account): "send as" in a run's
 * review offers only channels that can reach each patron now; the template
 * editor inserts a placeholder at the cursor, warns of an unknown one before
 * saving, and previews with a patron found by name and their loans; a
 * routine's schedule is picked from choices and shown in words. axe-core
 * finds no serious or critical problem on the pages.
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

  it('the template editor inserts a placeholder at the cursor, warns of an unknown one, and previews a chosen patron and their loans', async () => {
    await signIn();
    await page.goto(url('/templates/edit?type=overdue&channel=email&lang=en'));
    await expectAccessible(page);
    const text = page.getByLabel('Text', { exact: true });
    await text.fill('Dear , your loans:\n');
    // The cursor after "Dear ": the first name goes there.
    await text.evaluate((el) => {
      (el as HTMLTextAreaElement).setSelectionRange(5, 5);
    });
    await page.getByRole('button', { name: 'Insert The patron’s first name' }).click();
    await text.evaluate((el) => {
      const t = el as HTMLTextAreaElement;
      t.setSelectionRange(t.value.length, t.value.length);
    });
    await page.getByRole('button', { name: /^Insert The table of items/ }).click();
    expect(await text.inputValue()).to.equal(
      'Dear {{ patron.firstname }}, your loans:\n{% for item in items %}\n{{ item.title }}, {{ item.due }}\n{% endfor %}',
    );
    // Sample data first.
    await page.waitForFunction(() => document.getElementById('preview-text')?.textContent.startsWith('Dear Åsa, your loans:'));
    expect(await page.locator('#placeholders').innerText())
      .to.contain('The patron’s card number')
      .and.contain('23529000001');

    // A misspelt placeholder is named while typing, and saving asks first.
    await text.press('End');
    await text.pressSequentially(' {{ patron.fristname }}');
    await page.waitForFunction(() => !document.getElementById('template-unknown')?.hidden);
    expect(await page.locator('#template-unknown').innerText()).to.contain('patron.fristname');
    await page.getByRole('button', { name: 'Save the template' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('#template-unknown').innerText()).to.contain('patron.fristname');
    expect(await db.knex('kmc_templates').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    await expectAccessible(page);
    await text.fill('Dear {{ patron.firstname }}, your loans:\n{% for item in items %}\n{{ item.title }}, {{ item.due }}\n{% endfor %}');

    // A real patron, found by name: the preview shows them and their loans from Koha.
    await page.getByLabel('A patron: name or card number').fill('Müller');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForLoadState('load');
    await page.getByLabel(/^Jürgen Müller/).check();
    await page.waitForFunction(() => document.getElementById('preview-text')?.textContent.startsWith('Dear Jürgen, your loans:'));
    const shown = await page.locator('#preview-text').innerText();
    expect(shown).to.contain('Der Zauberberg').and.not.contain('Röda rummet');
    expect(await page.locator('#preview-patron').innerText()).to.equal('The preview shows Jürgen Müller.');
    // With the page posted, the loans are listed to untick.
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('#preview-text').innerText()).to.contain('Der Zauberberg');
    await page.locator('#preview-loans input[type=checkbox]').first().uncheck();
    await page.waitForFunction(() => !document.getElementById('preview-text')?.textContent.includes('Der Zauberberg'));
    await expectAccessible(page);
    expect(lib.patrons.jurgen).to.be.a('number');
  });

  it("a routine's schedule is picked from choices, stored as cron, and shown in words in the list", async () => {
    await signIn();
    await page.goto(url('/routines/new'));
    await expectAccessible(page);
    await page.getByLabel('Name', { exact: true }).fill('Weekday reminders');
    await page.getByLabel('Monday to Friday at').check();
    await page.getByLabel('Time', { exact: true }).fill('07:15');
    await page.getByRole('button', { name: 'Save' }).first().click();
    await page.waitForSelector('.alert-success');
    const row = await db.knex('kmc_routines').where({ name: 'Weekday reminders' }).first();
    expect(row.schedule).to.equal('15 7 * * 1-5');
    expect(await page.getByLabel('Monday to Friday at').isChecked()).to.equal(true);
    expect(await page.locator('#schedule-words').innerText()).to.equal('In words: At 07:15, Monday through Friday');
    await expectAccessible(page);

    // Every two hours within opening hours, then the list says so in words.
    await page.getByLabel('Every few hours within opening hours').check();
    await page.getByLabel('Every … hours').selectOption('2');
    await page.getByLabel('Opening hour', { exact: true }).selectOption('10');
    await page.getByLabel('Last run at (hour)').selectOption('18');
    await page.getByRole('button', { name: 'Save' }).first().click();
    await page.waitForSelector('.alert-success');
    expect((await db.knex('kmc_routines').where({ id: row.id }).first()).schedule).to.equal('0 10-18/2 * * *');
    await page.goto(url('/routines'));
    const listed = await page.locator('tr', { hasText: 'Weekday reminders' }).innerText();
    expect(listed).to.contain('On the hour, every 2 hours, between 10:00 and 18:00');

    // The cron form stays, as the advanced choice; a time that is not one is refused with the field named.
    await page.goto(url(`/routines/${row.id}`));
    await page.getByLabel('Advanced: a cron schedule').check();
    await page.getByLabel('Schedule', { exact: true }).fill('0 6 1 * *');
    await page.getByRole('button', { name: 'Save' }).first().click();
    await page.waitForSelector('.alert-success');
    expect((await db.knex('kmc_routines').where({ id: row.id }).first()).schedule).to.equal('0 6 1 * *');
    expect(await page.getByLabel('Advanced: a cron schedule').isChecked()).to.equal(true);
  });
});
