/**
 * Staff pages part 2 in a real browser (headless Chromium through
 * playwright-core, a real MariaDB, SMTP and SMSC on loopback): edit a
 * template and watch the preview and the SMS counter follow as you type;
 * save one with an error and read the error; add a rule and see it win in
 * the explanation; a staff member limited to their own branch cannot change
 * another branch's rule. axe-core finds no serious or critical problem on
 * any of these pages.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, seriousAxeProblems, type OpenBrowser } from '../support/browser';
import { kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

describe(`staff pages part 2 in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let sidecar: StaffSidecar | undefined;
  let db: KohaDatabase;
  let running: Running;
  let browser: OpenBrowser | undefined;
  let context: BrowserContext;
  let page: Page;
  let dialogs: string[] = [];

  before(async () => {
    sidecar = await startStaffSidecar('browser_2', {
      admin: { userid: 'admin', surname: 'admin', firstname: 'Test', modules: ['superlibrarian'], branchcode: 'CPL', categorycode: 'PT' },
      hafen: {
        userid: 'hafen',
        surname: 'hafen',
        firstname: 'Test',
        modules: ['catalogue', 'parameters'],
        branchcode: 'HAF',
        categorycode: 'PT',
      },
    });
    ({ db, running } = sidecar);
    browser = await openBrowser();
    ({ context, page, dialogs } = browser);
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  const url = (p: string) => `${running.url}${p}`;

  async function expectAccessible(p: Page): Promise<void> {
    expect(await seriousAxeProblems(p), p.url()).to.deep.equal([]);
  }

  async function signIn(userid: string): Promise<void> {
    await context.clearCookies();
    await page.goto(url('/signin'));
    await page.getByLabel('User name or card number').fill(userid);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');
  }

  it('edits a template: the preview and the SMS counter follow the typing; an error on save is shown with its line', async () => {
    await signIn('admin');
    await page.goto(url('/templates'));
    await expectAccessible(page);
    await page.goto(url('/templates/edit?type=overdue&channel=sms&lang=en'));
    await expectAccessible(page);
    const text = page.getByLabel('Text', { exact: true });
    await text.fill('Hi {{ patron.firstname }}, {{ items | length }} loans are late.');
    // With the page's script: the preview is asked for as staff type.
    await page.waitForFunction(() => document.getElementById('preview-text')?.textContent === 'Hi Åsa, 2 loans are late.');
    expect(await page.locator('#sms-counter').innerText()).to.equal('GSM-7: 1 SMS, 135 characters left in the last one');
    // A letter outside GSM-7 turns the whole text to UCS-2: 32 characters of 70.
    await text.fill('Hi {{ patron.firstname }}, 2 loans are late → Łódź.');
    await page.waitForFunction(
      () => document.getElementById('sms-counter')?.textContent === 'UCS-2: 1 SMS, 38 characters left in the last one',
    );
    // The Preview button works as a whole page too.
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('#preview-text').innerText()).to.equal('Hi Åsa, 2 loans are late → Łódź.');
    await expectAccessible(page);

    await page.getByLabel('Text', { exact: true }).fill('Hello {{ patron.firstname }}\nYou owe {{ patron.constructor }}');
    await page.getByRole('button', { name: 'Save the template' }).click();
    await page.waitForSelector('#template-refused');
    const refused = await page.locator('#template-refused').innerText();
    expect(refused).to.contain('The template was not saved:');
    expect(refused).to.match(/Text, line 2: .*constructor/);
    expect(await db.knex('kmc_templates').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    await expectAccessible(page);

    await page.getByLabel('Text', { exact: true }).fill('Hello {{ patron.firstname }}, please come by.');
    await page.getByRole('button', { name: 'Save the template' }).click();
    await page.waitForSelector('.alert-success');
    expect(await db.knex('kmc_templates').where({ message_type: 'overdue', channel: 'sms', lang: 'en' }).first('body_text')).to.deep.equal({
      body_text: 'Hello {{ patron.firstname }}, please come by.',
    });
    expect(dialogs).to.deep.equal([]);
  });

  it('adds a rule and sees it win in the explanation', async () => {
    await signIn('admin');
    await page.goto(url('/rules'));
    await expectAccessible(page);
    await page.getByRole('link', { name: 'Add a rule' }).click();
    await page.waitForLoadState('load');
    await expectAccessible(page);
    await page.getByLabel('Type', { exact: true }).selectOption('overdue');
    await page.getByLabel('Level (overdue notices)').selectOption('1');
    await page.getByLabel('Branch').selectOption('CPL');
    await page.getByLabel('Patron category').selectOption('KI');
    await page.getByLabel('Days after the due date (or the event)').fill('12');
    await page.getByRole('checkbox', { name: 'SMS', exact: true }).check();
    await page.getByRole('button', { name: 'Save the rule' }).click();
    await page.waitForSelector('.alert-success');
    const id = Number(/\/rules\/(\d+)/.exec(page.url())![1]);

    await page.goto(url('/rules'));
    await page.locator('#w-type').selectOption('overdue');
    await page.locator('#w-branch').selectOption('CPL');
    await page.locator('#w-category').selectOption('KI');
    await page.getByRole('button', { name: 'Show the winning rule' }).click();
    await page.waitForSelector('#who-answer');
    const answer = await page.locator('#who-answer').innerText();
    expect(answer).to.match(
      new RegExp(
        `For patron category KI at branch CPL on \\d{4}-\\d{2}-\\d{2}, rule #${id} wins: a branch rule outranks one for every branch`,
      ),
    );
    expect(await page.locator(`#rule-${id} .why`).innerText()).to.contain(`rule #${id} wins`);
    await expectAccessible(page);
  });

  it("a staff member limited to their own branch cannot change another branch's rule", async () => {
    await db.knex('kmc_settings').insert({ name: 'rules_own_branch_only', value: '1' }).onConflict('name').merge();
    const cpl = await db.knex('kmc_rules').where({ branchcode: 'CPL' }).first('id', 'delay_days');
    await signIn('hafen');
    await page.goto(url(`/rules/${cpl.id}`));
    expect(await page.locator('main').innerText()).to.contain('This rule belongs to another branch than yours (HAF)');
    expect(await page.getByRole('button', { name: 'Save the rule' }).count()).to.equal(0);
    expect(await page.locator('fieldset[disabled]').count()).to.be.greaterThan(0);
    await expectAccessible(page);
    // Posting anyway, with the session's own token: 403, and the rule stays as it was.
    const status = await page.evaluate(async (ruleId) => {
      const token = (document.querySelector('input[name="_csrf"]') as HTMLInputElement).value;
      const body = new URLSearchParams({ _csrf: token, branchcode: 'HAF', channels: 'email', is_used: '1', delay_days: '1' });
      return (await fetch(`/rules/${ruleId}`, { method: 'POST', body, credentials: 'same-origin' })).status;
    }, cpl.id);
    expect(status).to.equal(403);
    expect(await db.knex('kmc_rules').where({ id: cpl.id }).first('branchcode', 'delay_days')).to.deep.equal({
      branchcode: 'CPL',
      delay_days: cpl.delay_days,
    });
    await page.goto(url('/rules'));
    expect(await page.locator(`#rule-${cpl.id}`).innerText()).to.contain('read only');
    await expectAccessible(page);
  });

  it('the settings page and the dashboard have no serious accessibility problems', async () => {
    await signIn('admin');
    await page.goto(url('/settings?branch=CPL'));
    await expectAccessible(page);
    await page.goto(url('/dashboard'));
    await expectAccessible(page);
    expect(dialogs).to.deep.equal([]);
  });
});
