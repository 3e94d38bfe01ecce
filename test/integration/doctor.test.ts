/**
 * `kmc doctor` as an admin runs it, against real parts: the scratch MariaDB,
 * an SMTP server in this process, and two test SMSCs (the library's default
 * account and a branch's own). It says in words what is set, what answers and
 * what is wrong, and its exit code says whether all is well.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { TestSmsc } from '../support/smsc';
import { cliKind, runKmc } from '../support/cli';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { migrate } from '../../sidecar/db';
import type { DoctorReport } from '../../sidecar/doctor';

const PLUGIN = 'Koha::Plugin::Org::KohaMessageCenter';
const MIGRATIONS = readdirSync(path.resolve(__dirname, '..', '..', 'sql'))
  .filter((f) => /^\d{3}_.*\.sql$/.test(f))
  .sort();

describe(`kmc doctor (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(60_000);
  let db: KohaDatabase;
  let smtp: MailCapture;
  let smsc: TestSmsc;
  let branchSmsc: TestSmsc;
  let env: Record<string, string>;

  before(async () => {
    db = await createKohaDatabase('doctor');
    await migrate(db.knex);
    await db.knex('plugin_data').where({ plugin_class: PLUGIN }).del();
    await db.knex('plugin_data').insert([
      { plugin_class: PLUGIN, plugin_key: '__INSTALLED__', plugin_value: '1' },
      { plugin_class: PLUGIN, plugin_key: '__INSTALLED_VERSION__', plugin_value: '1.4.0' },
      { plugin_class: PLUGIN, plugin_key: '__ENABLED__', plugin_value: '1' },
    ]);
    smtp = new MailCapture();
    await smtp.start();
    smsc = await TestSmsc.start();
    branchSmsc = await TestSmsc.start({ systemId: 'cpl', password: 'cpl-Secret-9' });
    await db.knex('kmc_branch_settings').insert([
      { branchcode: 'CPL', sms_enabled: 1, sms_url: branchSmsc.url },
      { branchcode: 'FFL', sms_enabled: 1, sms_url: null },
      { branchcode: 'MPL', sms_enabled: 0, sms_url: null },
    ]);
    env = {
      KMC_DATABASE_URL: db.url,
      KMC_SMTP_URL: smtp.url,
      KMC_SMPP_URL: smsc.url,
      KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
      KMC_PRINT_DIR: mkdtempSync(path.join(os.tmpdir(), 'kmc-doctor-print-')),
      KMC_SECRET: 'doctor-test-secret-0123456789-abcdef',
      KMC_KOHA_STAFF_ORIGIN: 'https://staff.library.example',
      KMC_LOG_LEVEL: 'error',
    };
  });

  after(async () => {
    await smtp.stop();
    await smsc.close();
    await branchSmsc.close();
    await db.drop();
  });

  it('all well: says what is set and that everything answers, binds each SMS account once, exits 0', async () => {
    const r = await runKmc(['doctor'], env);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const lines = r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
    expect(lines).to.include.members([
      `* KMC_SMTP_URL ${smtp.url}`,
      '* KMC_SECRET (hidden)',
      'KMC_HOST 127.0.0.1',
      'ok the settings: valid',
      `ok the database: reachable at 127.0.0.1:3306, database ${db.name}`,
      `ok the sidecar's tables (migrations): up to date (${MIGRATIONS.length} applied)`,
      `ok the Koha plugin (${PLUGIN}): installed, version 1.4.0 and switched on`,
      `ok the mail server (KMC_SMTP_URL): ${new URL(smtp.url).host} answers and accepts us`,
      `ok the default SMS account (KMC_SMPP_URL): kmc@127.0.0.1:${smsc.port}: bound and unbound again`,
      `ok the SMS account of branch CPL: cpl@127.0.0.1:${branchSmsc.port}: bound and unbound again`,
      'ok the SMS account of branch FFL: the branch uses the default account',
      'ok the SMS account of branch MPL: SMS is switched off for this branch',
      'ok the print folder (KMC_PRINT_DIR ' + env.KMC_PRINT_DIR + '): exists and this user may write to it',
      'All is well (0 problem(s), 0 warning(s)).',
    ]);
    // Passwords never show: not the database's, not an SMS account's, not the secret.
    expect(lines).to.include(`* KMC_SMPP_URL smpp://kmc:***@127.0.0.1:${smsc.port}`);
    for (const secret of [smsc.password, 'cpl-Secret-9', env.KMC_SECRET]) expect(r.stdout).to.not.contain(secret);
    // Each account was bound once and let go again; nothing was sent.
    expect(smsc.binds.map((b) => [b.systemId, b.status])).to.deep.equal([['kmc', 0]]);
    expect(branchSmsc.binds.map((b) => [b.systemId, b.status])).to.deep.equal([['cpl', 0]]);
    expect([smsc.unbinds, branchSmsc.unbinds]).to.deep.equal([1, 1]);
    expect(smtp.messages).to.have.length(0);

    const json = await runKmc(['doctor', '--json'], env);
    expect(json.code).to.equal(0);
    const report = JSON.parse(json.stdout) as DoctorReport;
    expect(report).to.include({ ok: true, problems: 0, warnings: 0 });
    expect(report.findings.map((f) => f.verdict)).to.satisfy((v: string[]) => v.every((x) => x === 'ok'));
    expect(report.findings.map((f) => f.area)).to.include.members([
      'settings',
      'database',
      'migrations',
      'plugin',
      'email',
      'sms',
      'print',
    ]);
    expect(report.settings.find((s) => s.name === 'KMC_DATABASE_URL')).to.deep.equal({
      name: 'KMC_DATABASE_URL',
      value: db.url,
      from: 'environment',
    });
  });

  it('names every refused address in Koha and the branch settings, with the reason and what is used instead, and never uses it', async () => {
    await db.knex('branches').insert({
      branchcode: 'ADR',
      branchname: 'Adressbiblioteket',
      branchemail: 'x@y\r\nBcc: victim@evil.example',
      branchreplyto: 'a@x.example, b@x.example',
    });
    await db.knex('kmc_branch_settings').where({ branchcode: 'FFL' }).update({ sender_email: 'Library <ffl@bib.example>' });
    const prefs = await db.knex('systempreferences').whereIn('variable', ['ReturnpathDefault', 'KohaAdminEmailAddress']).select();
    await db
      .knex('systempreferences')
      .insert([
        { variable: 'ReturnpathDefault', value: 'bounces@localhost' },
        { variable: 'KohaAdminEmailAddress', value: 'admin@koha.example.org' },
      ])
      .onConflict('variable')
      .merge(['value']);
    try {
      const r = await runKmc(['doctor'], env);
      expect(r.code).to.equal(0);
      const lines = r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
      expect(lines).to.include.members([
        `WARNING branch ADR, branches.branchemail: "x@y\\r\\nBcc: victim@evil.example" is refused: it holds a line break or another control character; admin@koha.example.org (KohaAdminEmailAddress) is used instead`,
        'what to do: correct it in Koha (Administration › Libraries), or give the branch its own sender on the Settings page here',
        'WARNING branch ADR, branches.branchreplyto: "a@x.example, b@x.example" is refused: it holds more than one address; none is used instead',
        'WARNING Koha\'s system preference ReturnpathDefault: "bounces@localhost" is refused: the domain has no dot; it is not used',
        'what to do: correct it in Koha (Administration › System preferences)',
        'All is well (0 problem(s), 4 warning(s)).',
      ]);
      const ffl = lines.find((l) => l.startsWith('WARNING branch FFL, its sender in the branch settings:'));
      expect(ffl).to.contain('it holds a name or angle brackets besides the address');
      const report = JSON.parse((await runKmc(['doctor', '--json'], env)).stdout) as DoctorReport;
      expect(report.findings.filter((f) => f.area === 'addresses').map((f) => f.verdict)).to.deep.equal([
        'warning',
        'warning',
        'warning',
        'warning',
      ]);
    } finally {
      await db.knex('branches').where({ branchcode: 'ADR' }).del();
      await db.knex('kmc_branch_settings').where({ branchcode: 'FFL' }).update({ sender_email: null });
      await db.knex('systempreferences').whereIn('variable', ['ReturnpathDefault', 'KohaAdminEmailAddress']).del();
      if (prefs.length) await db.knex('systempreferences').insert(prefs);
    }
  });

  it("checks the branches' own DKIM keys (branch settings) as it checks KMC_DKIM_KEYS, and names one that cannot sign", async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await db
      .knex('kmc_branch_settings')
      .where({ branchcode: 'MPL' })
      .update({
        dkim_domain: 'mpl.kmc-doctor.invalid',
        dkim_selector: 'mpl1',
        dkim_private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      });
    await db
      .knex('kmc_branch_settings')
      .where({ branchcode: 'FFL' })
      .update({ dkim_domain: 'ffl.kmc-doctor.invalid', dkim_selector: 'ffl1', dkim_private_key: 'not a key' });
    try {
      const r = await runKmc(['doctor', '--json'], env);
      const report = JSON.parse(r.stdout) as DoctorReport;
      const mpl = report.findings.find(
        (f) => f.subject === "the DKIM key of mpl.kmc-doctor.invalid (selector mpl1, branch MPL's settings)",
      );
      expect(mpl, JSON.stringify(report.findings.map((f) => f.subject))).to.not.equal(undefined);
      // Nothing is published for it (or DNS cannot be asked from here): either way the record to publish is given.
      expect(['warning', 'not_checked']).to.include(mpl!.verdict);
      expect(mpl!.hint).to.match(/mpl1\._domainkey\.mpl\.kmc-doctor\.invalid .*v=DKIM1; k=rsa; p=MII/);
      expect(JSON.stringify(report)).not.to.contain('PRIVATE KEY');
      const ffl = report.findings.find((f) => f.subject === "the DKIM key in branch FFL's settings");
      expect(ffl).to.deep.include({ verdict: 'problem' });
      expect(ffl!.says).to.match(/^it cannot sign: no usable private key/);
      expect(r.code).to.equal(1);
    } finally {
      await db
        .knex('kmc_branch_settings')
        .whereIn('branchcode', ['MPL', 'FFL'])
        .update({ dkim_domain: null, dkim_selector: null, dkim_private_key: null });
    }
  });

  it('mail server down and a migration pending: says both with what to do, exits 1', async () => {
    const gone = new MailCapture();
    await gone.start();
    const downUrl = gone.url;
    await gone.stop();
    const last = MIGRATIONS[MIGRATIONS.length - 1];
    // As after an upgrade that brought a new migration: the ledger lacks the newest file.
    await db.knex('kmc_schema_migrations').where({ name: last }).del();
    try {
      const down = { ...env, KMC_SMTP_URL: downUrl };
      const r = await runKmc(['doctor'], down);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal('');
      const lines = r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
      expect(lines).to.include.members([
        `PROBLEM the sidecar's tables (migrations): 1 migration(s) not applied: ${last}`,
        'what to do: run kmc migrate (when upgrading: stop kmc serve, migrate, start it again)',
        'what to do: start the mail server, or correct the host and port in KMC_SMTP_URL',
        `ok the database: reachable at 127.0.0.1:3306, database ${db.name}`,
        `ok the default SMS account (KMC_SMPP_URL): kmc@127.0.0.1:${smsc.port}: bound and unbound again`,
        'Something is wrong: 2 problem(s), 0 warning(s).',
      ]);
      const mail = lines.find((l) => l.startsWith('PROBLEM the mail server (KMC_SMTP_URL):'));
      expect(mail).to.match(
        new RegExp(`^PROBLEM the mail server \\(KMC_SMTP_URL\\): nothing answers at ${new URL(downUrl).host}: .*ECONNREFUSED`),
      );

      const json = await runKmc(['doctor', '--json'], down);
      expect(json.code).to.equal(1);
      const report = JSON.parse(json.stdout) as DoctorReport;
      expect(report).to.include({ ok: false, problems: 2, warnings: 0 });
      expect(report.findings.filter((f) => f.verdict === 'problem').map((f) => f.area)).to.deep.equal(['migrations', 'email']);
    } finally {
      await migrate(db.knex);
    }
  });

  it('the plugin uninstalled after the sidecar had seen it: a problem that says nothing goes out; the doctor notes nothing itself', async () => {
    // The doctor run above saw the plugin installed, but changes nothing: it did not note it.
    expect(await db.knex('kmc_settings').where({ name: 'koha_plugin_seen' }).first()).to.equal(undefined);
    const rows = await db.knex('plugin_data').where({ plugin_class: PLUGIN }).select();
    await db.knex('kmc_settings').insert({ name: 'koha_plugin_seen', value: '2026-11-01T08:00:00.000Z' });
    await db.knex('plugin_data').where({ plugin_class: PLUGIN }).del();
    try {
      const r = await runKmc(['doctor'], env);
      expect(r.code).to.equal(1);
      const lines = r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
      expect(lines).to.include.members([
        `PROBLEM the Koha plugin (${PLUGIN}): uninstalled in Koha after the sidecar had seen it installed: no notice is generated or sent`,
        'what to do: install the plugin again on Koha’s plugin page, or set KMC_WITHOUT_PLUGIN=on to run the sidecar without it on purpose',
      ]);
      const on = await runKmc(['doctor'], { ...env, KMC_WITHOUT_PLUGIN: 'on' });
      expect(on.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim())).to.include(
        `ok the Koha plugin (${PLUGIN}): not installed in Koha; KMC_WITHOUT_PLUGIN is on, so the sidecar runs on its own`,
      );
    } finally {
      await db.knex('plugin_data').insert(rows);
      await db.knex('kmc_settings').where({ name: 'koha_plugin_seen' }).del();
    }
  });

  it("Koha's own notice jobs still queue overdue notices: a warning with figures and which cron jobs to switch off", async () => {
    await db.knex.raw(
      "INSERT IGNORE INTO message_transport_types (message_transport_type) VALUES ('email'), ('sms'), ('print'), ('phone'), ('itiva')",
    );
    const row = (letter_code: string, message_transport_type: string, daysAgo: number) => ({
      letter_code,
      message_transport_type,
      status: 'sent',
      content: 'Dear patron',
      time_queued: db.knex.raw('NOW() - INTERVAL ? DAY', [daysAgo]),
    });
    await db.knex('message_queue').insert([row('ODUE', 'email', 1), row('ODUE', 'print', 2), row('PREDUEDGST', 'email', 30)]);
    try {
      const r = await runKmc(['doctor', '--json'], env);
      const report = JSON.parse(r.stdout) as DoctorReport;
      const found = report.findings.find((f) => f.area === 'koha_jobs');
      expect(found?.verdict).to.equal('warning');
      expect(found?.says).to.match(
        /^still at work: 2 notice\(s\) in Koha's message_queue in the last 7 days \(ODUE by email: 1, ODUE by print: 1; newest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\); patrons get these notices twice$/,
      );
      expect(found?.hint).to.contain('overdue_notices.pl').and.contain('advance_notices.pl').and.contain('holds_reminder.pl');
      expect(report).to.include({ ok: true, warnings: 1 });
    } finally {
      await db.knex('message_queue').del();
    }
  });
});
