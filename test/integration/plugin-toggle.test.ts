/**
 * Koha's plugin toggle read as Koha reads it: on only when `__ENABLED__` holds
 * 1. Uninstalling the plugin in Koha deletes its rows; once the sidecar has
 * seen the plugin installed, that stops it (no run, no delivery, no scan),
 * unless the admin runs it without the plugin on purpose (KMC_WITHOUT_PLUGIN).
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { PLUGIN_SEEN_SETTING } from '../../sidecar/host';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { App } from '../../sidecar/main';

describe(`the plugin toggle as Koha reads it (${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let smtp: MailCapture;
  let kmc: App | null = null;
  const clock = new TestClock(new Date('2026-11-24T05:00:00Z'));

  async function start(env: Record<string, string> = {}): Promise<App> {
    if (kmc) await kmc.close();
    kmc = testServices(testSettings(db.url, { KMC_SMTP_URL: smtp.url, ...env }), clock);
    await kmc.startChannels();
    return kmc;
  }
  const run = (app: App) => runNotices(app.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
  const install = async (app: App, enabled: string | null) => {
    const pluginClass = app.settings.pluginClass;
    await db.knex('plugin_data').where({ plugin_class: pluginClass }).del();
    await db.knex('plugin_data').insert([
      { plugin_class: pluginClass, plugin_key: '__INSTALLED__', plugin_value: '1' },
      { plugin_class: pluginClass, plugin_key: '__INSTALLED_VERSION__', plugin_value: '1.4.0' },
      { plugin_class: pluginClass, plugin_key: '__ENABLED__', plugin_value: enabled },
    ]);
  };
  /** What Koha's plugin page does on "Uninstall": all the plugin's rows go. */
  const uninstall = (app: App) => db.knex('plugin_data').where({ plugin_class: app.settings.pluginClass }).del();

  beforeEach(async () => {
    db = await createKohaDatabase('toggle');
    await migrate(db.knex);
    await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
  });

  afterEach(async () => {
    if (kmc) await kmc.close();
    kmc = null;
    await smtp.stop();
    await db.drop();
  });

  it('uninstalled after it was seen: nothing is generated, sent or scanned, also after a restart', async () => {
    const app = await start();
    await install(app, '1');
    // The first run sees the plugin installed and notes it; its messages wait for delivery.
    const first = await run(app);
    expect(first.notRun).to.equal(undefined);
    expect(first.created).to.be.greaterThan(0);
    expect(await db.knex('kmc_settings').where({ name: PLUGIN_SEEN_SETTING }).first()).to.not.equal(undefined);

    await uninstall(app);
    const stats = await app.worker.deliverOnce();
    expect(stats.disabled).to.equal(true);
    expect(stats.sent).to.equal(0);
    expect(smtp.messages).to.have.length(0);
    expect(await db.knex('kmc_messages').whereNot({ status: 'pending' }).count({ n: '*' })).to.deep.equal([{ n: 0 }]);

    // A sidecar started again after the uninstall still knows it had seen the plugin.
    const again = await start();
    const second = await runNotices(again.notices, { type: 'overdue', date: '2026-11-30', startedBy: 'test' });
    expect(second.notRun).to.equal('disabled');
    expect(second.created).to.equal(0);
    expect((await again.worker.deliverOnce()).sent).to.equal(0);
    expect((await again.verification.scan()).notRun).to.equal('disabled');
    expect(smtp.messages).to.have.length(0);
  });

  it('KMC_WITHOUT_PLUGIN=on: runs on after an uninstall; an installed plugin switched off still stops it', async () => {
    const app = await start({ KMC_WITHOUT_PLUGIN: 'on' });
    await install(app, '1');
    expect(await app.host.isEnabled(app.settings.pluginClass)).to.equal(true);
    await uninstall(app);
    const result = await run(app);
    expect(result.notRun).to.equal(undefined);
    expect(result.created).to.be.greaterThan(0);
    await install(app, '0');
    expect((await app.worker.deliverOnce()).disabled).to.equal(true);
    expect(smtp.messages).to.have.length(0);
  });

  it('never seen and no rows: the sidecar runs on its own', async () => {
    const app = await start();
    await uninstall(app);
    const result = await run(app);
    expect(result.notRun).to.equal(undefined);
    expect(result.created).to.be.greaterThan(0);
    expect(await db.knex('kmc_settings').where({ name: PLUGIN_SEEN_SETTING }).first()).to.equal(undefined);
  });

  for (const [what, value] of [
    ['empty', ''],
    ['NULL', null],
    ['0', '0'],
    ['something other than 1', 'yes'],
  ] as const) {
    it(`__ENABLED__ ${what} counts as off`, async () => {
      const app = await start();
      await install(app, value);
      const result = await run(app);
      expect(result.notRun).to.equal('disabled');
      expect(result.created).to.equal(0);
      expect(await db.knex('kmc_messages').count({ n: '*' })).to.deep.equal([{ n: 0 }]);
      const state = await app.host.pluginState(app.settings.pluginClass);
      expect(state).to.include({ installed: true, enabled: false, on: false });
    });
  }
});
