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
import { kohaSchemaKind } from '../support/koha';
import { staffInBrowser } from './staff-browser';

describe(`staff choices in headless Chromium (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  const w = staffInBrowser('browser_choices');

  const optionsOf = (id: number) =>
    w.page.locator(`#send-as-${id} option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));

  it('a run without an SMS account offers no SMS, and e-mail only to patrons with a usable address', async () => {
    await w.signIn();
    await w.page.goto(w.url('/routines'));
    await w.page.getByRole('link', { name: 'Overdue notices' }).click();
    await w.page.waitForLoadState('load');
    await w.page.getByRole('button', { name: 'Run now' }).click();
    await w.page.waitForSelector('input[name="keep"]', { timeout: 30_000 });
    const runId = Number(/\/runs\/(\d+)/.exec(w.page.url())![1]);
    const messages = await w.db.knex('kmc_messages').where({ run_id: runId });
    const of = (n: number) => messages.find((m) => m.borrowernumber === n)!;
    const asa = of(w.lib.patrons.asa);
    const soren = of(w.lib.patrons.soren);
    const anna = of(w.lib.patrons.anna);

    // Åsa has an address: e-mail or a letter. Søren has none and Anna's cannot be used: a letter only.
    expect(await optionsOf(asa.id)).to.deep.equal(['email', 'print']);
    expect(await optionsOf(soren.id)).to.deep.equal(soren.channel === 'print' ? ['print'] : ['', 'print']);
    expect(await optionsOf(anna.id)).to.deep.equal(anna.channel === 'print' ? ['print'] : ['', 'print']);
    expect(await w.page.locator('select[name^="send_as_"] option[value="sms"]').count()).to.equal(0);
    expect(await w.page.locator('#send-as-hint').innerText()).to.contain('SMS needs');
    await w.expectAccessible(w.page);

    // A channel the page did not offer, posted all the same, is not taken.
    await w.page.locator(`#send-as-${asa.id}`).evaluate((el) => {
      const o = document.createElement('option');
      o.value = 'sms';
      o.textContent = 'SMS';
      el.appendChild(o);
      (el as HTMLSelectElement).value = 'sms';
    });
    await w.page.getByRole('button', { name: 'Save changes' }).click();
    await w.page.waitForLoadState('load');
    const review = await w.db.knex('kmc_review_messages').where({ message_id: asa.id }).first();
    expect(review?.send_as ?? null).to.equal(null);
    await w.page.locator(`#send-as-${asa.id}`).selectOption('print');
    await w.page.getByRole('button', { name: 'Save changes' }).click();
    await w.page.waitForLoadState('load');
    expect((await w.db.knex('kmc_review_messages').where({ message_id: asa.id }).first()).send_as).to.equal('print');
  });

  it('the template editor inserts a placeholder at the cursor, warns of an unknown one, and previews a chosen patron and their loans', async () => {
    await w.signIn();
    await w.page.goto(w.url('/templates/edit?type=overdue&channel=email&lang=en'));
    await w.expectAccessible(w.page);
    const text = w.page.getByLabel('Text', { exact: true });
    await text.fill('Dear , your loans:\n');
    // The cursor after "Dear ": the first name goes there.
    await text.evaluate((el) => {
      (el as HTMLTextAreaElement).setSelectionRange(5, 5);
    });
    await w.page.getByRole('button', { name: 'Insert The patron’s first name' }).click();
    await text.evaluate((el) => {
      const t = el as HTMLTextAreaElement;
      t.setSelectionRange(t.value.length, t.value.length);
    });
    await w.page.getByRole('button', { name: /^Insert The table of items/ }).click();
    expect(await text.inputValue()).to.equal(
      'Dear {{ patron.firstname }}, your loans:\n{% for item in items %}\n{{ item.title }}, {{ item.due }}\n{% endfor %}',
    );
    // Sample data first.
    await w.page.waitForFunction(() => document.getElementById('preview-text')?.textContent.startsWith('Dear Åsa, your loans:'));
    expect(await w.page.locator('#placeholders').innerText())
      .to.contain('The patron’s card number')
      .and.contain('23529000001');

    // A misspelt placeholder is named while typing, and saving asks first.
    await text.press('End');
    await text.pressSequentially(' {{ patron.fristname }}');
    await w.page.waitForFunction(() => !document.getElementById('template-unknown')?.hidden);
    expect(await w.page.locator('#template-unknown').innerText()).to.contain('patron.fristname');
    await w.page.getByRole('button', { name: 'Save the template' }).click();
    await w.page.waitForLoadState('load');
    expect(await w.page.locator('#template-unknown').innerText()).to.contain('patron.fristname');
    expect(await w.db.knex('kmc_templates').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    await w.expectAccessible(w.page);
    await text.fill('Dear {{ patron.firstname }}, your loans:\n{% for item in items %}\n{{ item.title }}, {{ item.due }}\n{% endfor %}');

    // A real patron, found by name: the preview shows them and their loans from Koha.
    await w.page.getByLabel('A patron: name or card number').fill('Müller');
    await w.page.getByRole('button', { name: 'Find' }).click();
    await w.page.waitForLoadState('load');
    await w.page.getByLabel(/^Jürgen Müller/).check();
    await w.page.waitForFunction(() => document.getElementById('preview-text')?.textContent.startsWith('Dear Jürgen, your loans:'));
    const shown = await w.page.locator('#preview-text').innerText();
    expect(shown).to.contain('Der Zauberberg').and.not.contain('Röda rummet');
    expect(await w.page.locator('#preview-patron').innerText()).to.equal('The preview shows Jürgen Müller.');
    // With the page posted, the loans are listed to untick.
    await w.page.getByRole('button', { name: 'Preview' }).click();
    await w.page.waitForLoadState('load');
    expect(await w.page.locator('#preview-text').innerText()).to.contain('Der Zauberberg');
    await w.page.locator('#preview-loans input[type=checkbox]').first().uncheck();
    await w.page.waitForFunction(() => !document.getElementById('preview-text')?.textContent.includes('Der Zauberberg'));
    await w.expectAccessible(w.page);
    expect(w.lib.patrons.jurgen).to.be.a('number');
  });

  it("a routine's schedule is picked from choices, stored as cron, and shown in words in the list", async () => {
    await w.signIn();
    await w.page.goto(w.url('/routines/new'));
    await w.expectAccessible(w.page);
    await w.page.getByLabel('Name', { exact: true }).fill('Weekday reminders');
    await w.page.getByLabel('Monday to Friday at').check();
    await w.page.getByLabel('Time', { exact: true }).fill('07:15');
    await w.page.getByRole('button', { name: 'Save' }).first().click();
    await w.page.waitForSelector('.alert-success');
    const row = await w.db.knex('kmc_routines').where({ name: 'Weekday reminders' }).first();
    expect(row.schedule).to.equal('15 7 * * 1-5');
    expect(await w.page.getByLabel('Monday to Friday at').isChecked()).to.equal(true);
    expect(await w.page.locator('#schedule-words').innerText()).to.equal('In words: At 07:15, Monday through Friday');
    await w.expectAccessible(w.page);

    // Every two hours within opening hours, then the list says so in words.
    await w.page.getByLabel('Every few hours within opening hours').check();
    await w.page.getByLabel('Every … hours').selectOption('2');
    await w.page.getByLabel('Opening hour', { exact: true }).selectOption('10');
    await w.page.getByLabel('Last run at (hour)').selectOption('18');
    await w.page.getByRole('button', { name: 'Save' }).first().click();
    await w.page.waitForSelector('.alert-success');
    expect((await w.db.knex('kmc_routines').where({ id: row.id }).first()).schedule).to.equal('0 10-18/2 * * *');
    await w.page.goto(w.url('/routines'));
    const listed = await w.page.locator('tr', { hasText: 'Weekday reminders' }).innerText();
    expect(listed).to.contain('On the hour, every 2 hours, between 10:00 and 18:00');

    // The cron form stays, as the advanced choice; a time that is not one is refused with the field named.
    await w.page.goto(w.url(`/routines/${row.id}`));
    await w.page.getByLabel('Advanced: a cron schedule').check();
    await w.page.getByLabel('Schedule', { exact: true }).fill('0 6 1 * *');
    await w.page.getByRole('button', { name: 'Save' }).first().click();
    await w.page.waitForSelector('.alert-success');
    expect((await w.db.knex('kmc_routines').where({ id: row.id }).first()).schedule).to.equal('0 6 1 * *');
    expect(await w.page.getByLabel('Advanced: a cron schedule').isChecked()).to.equal(true);
  });
});
