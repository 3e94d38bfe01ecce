/**
 * The branch settings page against a real MariaDB, a real SMTP server and a
 * real SMSC: saving with validation that names the field, the SMS password
 * never shown back and kept when left empty, test buttons that send through
 * the real adapters, permissions, CSRF and escaping.
 */
import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { buildSmallLibrary, type SmallLibrary } from '../support/library';
import { TestClock, testSettings, BY_HAND } from '../support/sidecar';
import { TestSmsc } from '../support/smsc';
import { migrate } from '../../sidecar/db';
import { startServer, type Running } from '../../sidecar/serve';
import { createMemoryLogger } from '../../sidecar/logging';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { withPassword, withoutPassword } from '../../sidecar/web/pages/settings';
import { addStaff, StaffSession } from './web-support';
import { runNotices } from '../../sidecar/notices';

describe('SMS account URLs on the settings page', () => {
  it('never shows the password, and keeps it for the same account when the field is empty', () => {
    expect(withoutPassword('smpp://kmc:s3cret@sms.example.org:2775')).to.equal('smpp://kmc@sms.example.org:2775');
    expect(withPassword('smpp://kmc@sms.example.org:2775', '', 'smpp://kmc:s3cret@sms.example.org:2775')).to.equal(
      'smpp://kmc:s3cret@sms.example.org:2775',
    );
    expect(withPassword('smpp://kmc@other.example.org:2775', '', 'smpp://kmc:s3cret@sms.example.org:2775')).to.equal(
      'smpp://kmc@other.example.org:2775',
    );
    expect(withPassword('smpp://kmc@sms.example.org:2775', 'n3w:@', 'smpp://kmc:s3cret@sms.example.org:2775')).to.equal(
      'smpp://kmc:n3w%3A%40@sms.example.org:2775',
    );
  });
});

describe(`the settings page (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let db: KohaDatabase;
  let lib: SmallLibrary;
  let running: Running;
  let mail: MailCapture;
  let smsc: TestSmsc;
  let clock: TestClock;
  let admin: StaffSession;
  const n: Record<string, number> = {};
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const as = (who: string) => StaffSession.launch(running.server, running.services.settings.secret, n[who], now());

  before(async () => {
    db = await createKohaDatabase('web_settings');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    n.admin = await addStaff(lib.builder, {
      userid: 'admin',
      surname: 'Admin',
      modules: ['catalogue'],
      subs: [['parameters', 'manage_sysprefs']],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    n.tools = await addStaff(lib.builder, {
      userid: 'tools',
      surname: 'Verktyg',
      modules: ['catalogue', 'tools'],
      branchcode: 'CPL',
      categorycode: 'PT',
    });
    mail = new MailCapture();
    await mail.start();
    smsc = await TestSmsc.start({ password: 'pw-Secret-9' });
    clock = new TestClock(new Date('2026-11-24T09:00:00Z'));
    running = await startServer(testSettings(db.url, { KMC_PORT: '0', KMC_SMTP_URL: mail.url, KMC_SMPP_URL: smsc.url }), {
      jobs: BY_HAND,
      logger: createMemoryLogger(),
      clock,
      deliverEveryMs: 3_600_000,
      verifyEveryMs: 0,
    });
    admin = await as('admin');
  });

  after(async () => {
    await running.stop();
    await smsc.close();
    await mail.stop();
    await db.drop();
  });

  it("saves a branch's settings; the password is stored but never shown back, and kept when left empty", async () => {
    const fields = {
      branch: 'CPL',
      sender_email: 'central@bibliotek.example.org',
      reply_to: 'svar@bibliotek.example.org',
      letter_address: 'Storgatan 1\n111 22 Stockholm',
      default_lang: 'sv',
      sms_enabled: '1',
      sms_url: smsc.urlWith('kmc', 'unused').replace(/:unused@/, '@'),
      sms_password: 'pw-Secret-9',
      sms_sender: 'Biblioteket',
      quiet_from: '21:00',
      quiet_to: '08:00',
    };
    const res = await admin.post('/settings', fields);
    expect(res.status, res.text).to.equal(303);
    const row = await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first();
    expect(row).to.include({
      sender_email: 'central@bibliotek.example.org',
      sms_enabled: 1,
      sms_sender: 'Biblioteket',
      quiet_from: '21:00:00',
      default_lang: 'sv',
    });
    expect(row.sms_url).to.contain(':pw-Secret-9@');
    const page = await admin.get('/settings?branch=CPL');
    expect(page.text).to.not.contain('pw-Secret-9');
    expect(page.text).to.contain('A password is stored; leave this empty to keep it.');
    const again = await admin.post('/settings', { ...fields, sms_password: '', sender_email: 'ny@bibliotek.example.org' });
    expect(again.status).to.equal(303);
    const after = await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first();
    expect(after.sms_url).to.contain(':pw-Secret-9@');
    expect(after.sender_email).to.equal('ny@bibliotek.example.org');
    const audit = await db.knex('kmc_audit').where({ action: 'settings.save', object_id: 'CPL' });
    expect(audit).to.have.length(2);
    expect(audit[0].detail).to.not.contain('pw-Secret-9');
    expect(audit[0].detail).to.not.contain('bibliotek.example.org');
  });

  it("keeps a branch's bounce domain and DKIM key; the private key is never shown back, only the record to publish", async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const body = pem.split('\n')[1];
    const fields = {
      branch: 'HAF',
      bounce_domain: 'Retur.Stadtbibliothek.example.net',
      dkim_domain: 'stadtbibliothek.example.net',
      dkim_selector: 'hafen1',
      dkim_private_key: pem,
    };
    const res = await admin.post('/settings/mail-identity', fields);
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal('/settings?branch=HAF&done=settings.identity_saved');
    const row = await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).first();
    expect(row).to.include({
      bounce_domain: 'retur.stadtbibliothek.example.net',
      dkim_domain: 'stadtbibliothek.example.net',
      dkim_selector: 'hafen1',
    });
    expect(row.dkim_private_key).to.equal(pem.trim());

    const page = await admin.get('/settings?branch=HAF');
    expect(page.text).to.not.contain(body);
    expect(page.text).to.not.contain('PRIVATE KEY');
    expect(page.text).to.contain('A key is stored; leave this empty to keep it.');
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
    expect(page.text).to.contain('hafen1._domainkey.stadtbibliothek.example.net');
    expect(page.text).to.contain(`v=DKIM1; k=rsa; p=${publicKey}`);

    // Saved again with the key field empty: kept. A bad key or half a key: refused, nothing changed.
    expect((await admin.post('/settings/mail-identity', { ...fields, dkim_private_key: '' })).status).to.equal(303);
    expect((await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).first()).dkim_private_key).to.equal(pem.trim());
    const bad = await admin.post('/settings/mail-identity', { ...fields, dkim_private_key: 'not a key' });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('DKIM private key (RSA, PEM): an RSA private key in PEM form');
    // No signing domain, with the stored key and selector: half a key.
    const half = await admin.post('/settings/mail-identity', { ...fields, dkim_domain: '', dkim_private_key: '' });
    expect(half.status).to.equal(400);
    expect(half.text).to.contain('a DKIM key needs the signing domain, the selector and the key together');
    const badDomain = await admin.post('/settings/mail-identity', { ...fields, bounce_domain: 'not a domain' });
    expect(badDomain.status).to.equal(400);
    expect((await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).first()).bounce_domain).to.equal(
      'retur.stadtbibliothek.example.net',
    );

    // The box removes the key; the audit names fields, never the key.
    expect(
      (
        await admin.post('/settings/mail-identity', {
          ...fields,
          dkim_private_key: '',
          dkim_remove: '1',
          dkim_domain: '',
          dkim_selector: '',
        })
      ).status,
    ).to.equal(303);
    expect((await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).first()).dkim_private_key).to.equal(null);
    const audit = await db.knex('kmc_audit').where({ action: 'settings.mail_identity', object_id: 'HAF' });
    expect(audit).to.have.length(3);
    for (const a of audit) expect(a.detail).to.not.contain(body);
    // The other tests start without settings for this branch.
    await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).delete();
  });

  it('refuses bad values with messages naming the field, changing nothing', async () => {
    const before = await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first();
    const res = await admin.post('/settings', {
      branch: 'CPL',
      sender_email: 'not an address',
      quiet_from: '25:00',
      quiet_to: '',
      sms_url: 'http://nope',
      sms_sender: 'A sender name that is far too long',
    });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain(
      'Sender address: it holds a name or angle brackets besides the address. Give one address such as library@example.org.',
    );
    expect(res.text).to.contain('No SMS from: a time as HH:MM.');
    expect(res.text).to.contain('SMS account (smpp://user@host:port): an address such as');
    expect(res.text).to.contain('SMS sender: up to 11 letters and digits, or a phone number.');
    expect(await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first()).to.deep.equal(before);
  });

  it('refuses a sender or reply-to with a header smuggled in, naming the reason, and stores nothing', async () => {
    const before = await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first();
    const res = await admin.post('/settings', {
      branch: 'CPL',
      sender_email: 'ffl@bib.example\r\nBcc: victim@evil.example',
      reply_to: 'a@bib.example, b@bib.example',
    });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('Sender address: it holds a line break or another control character.');
    expect(res.text).to.contain('Reply-to address: it holds more than one address.');
    expect(await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).first()).to.deep.equal(before);
  });

  it('shows the addresses in force for a branch and where each comes from, and a refused one from Koha with its reason', async () => {
    await db.knex('branches').where({ branchcode: 'HAF' }).update({ branchemail: 'x@y\r\nBcc: victim@evil.example' });
    await lib.builder.systemPreference('ReplytoDefault', 'svar@bibliotek.example.org');
    const adminPref = await db.knex('systempreferences').where({ variable: 'KohaAdminEmailAddress' }).first();
    await lib.builder.systemPreference('KohaAdminEmailAddress', 'admin@koha.example.org');
    try {
      const page = await admin.get('/settings?branch=HAF');
      expect(page.status).to.equal(200);
      const row = (role: string) => new RegExp(`<tr id="address-${role}">([\\s\\S]*?)</tr>`).exec(page.text)?.[1] ?? '';
      const sender = row('sender');
      expect(sender).to.contain('<code>admin@koha.example.org</code>').and.contain('Koha&#39;s system preference KohaAdminEmailAddress');
      expect(sender).to.contain('Refused:').and.contain('Koha&#39;s library record (branchemail)');
      expect(sender).to.contain('it holds a line break or another control character');
      expect(sender).to.not.contain('\r\nBcc');
      expect(row('reply_to')).to.contain('<code>svar@bibliotek.example.org</code>').and.contain('system preference ReplytoDefault');
      expect(row('return_path')).to.contain('none: undeliverable mail comes back to the sender');
      const cpl = await admin.get('/settings?branch=CPL');
      expect(cpl.text).to.contain('<code>ny@bibliotek.example.org</code>').and.contain('this page (sender_email)');
    } finally {
      await db.knex('branches').where({ branchcode: 'HAF' }).update({ branchemail: 'hafen@stadtbibliothek.example.net' });
      await db.knex('systempreferences').whereIn('variable', ['ReplytoDefault', 'KohaAdminEmailAddress']).del();
      if (adminPref) await db.knex('systempreferences').insert(adminPref);
    }
  });

  it('shows for every empty field what is in force and where it comes from, the languages as a choice, and whether the branch sends SMS', async () => {
    const haf = await admin.get('/settings?branch=HAF');
    expect(haf.status).to.equal(200);
    const hint = (id: string) => new RegExp(`id="${id}" class="in-force">([^<]*)<`).exec(haf.text)?.[1] ?? '';
    expect(hint('s-sender-force')).to.equal(
      'Empty here: hafen@stadtbibliothek.example.net is used, from Koha&#39;s library record (branchemail).',
    );
    expect(hint('s-letter-force')).to.match(
      /^Empty here: .*Hamburg is used, from Koha&#39;s library record \(Stadtbibliothek am Hafen\)\.$/,
    );
    expect(hint('s-lang-force')).to.equal('Empty here: each patron’s language in Koha, else English (the default).');
    expect(hint('s-ssender-force')).to.equal('Empty here: the SMS account’s own sender (the default).');
    expect(haf.text).to.contain('Empty here: no quiet hours, SMS go at any time (the default).');
    // The language is a choice of the installed ones, named in the staff member's language.
    const options = [
      ...(/<select id="s-lang"[^>]*>([\s\S]*?)<\/select>/.exec(haf.text)?.[1] ?? '').matchAll(/<option value="([^"]*)"/g),
    ].map((m) => m[1]);
    expect(options).to.deep.equal(['', 'da', 'de', 'en', 'sv']);
    // No row of its own: the library's SMS account (KMC_SMPP_URL) carries its SMS.
    expect(haf.text).to.contain('Yes: this branch sends SMS through the library’s account (KMC_SMPP_URL).');
    // CPL has its own account (saved above); switched off, it says so.
    expect((await admin.get('/settings?branch=CPL')).text).to.contain('Yes: this branch sends SMS through its own account.');
    const own = await running.services.branches.find('CPL');
    await db.knex('kmc_branch_settings').where({ branchcode: 'CPL' }).update({ sms_enabled: 0 });
    try {
      expect((await admin.get('/settings?branch=CPL')).text).to.contain('No: SMS is switched off for this branch on this page.');
    } finally {
      await db
        .knex('kmc_branch_settings')
        .where({ branchcode: 'CPL' })
        .update({ sms_enabled: own?.sms_enabled ? 1 : 0 });
    }
  });

  it("sends a test e-mail through the SMTP adapter, from the branch's sender address", async () => {
    const res = await admin.post('/settings/test', { branch: 'CPL', which: 'email', test_email: 'kontroll@example.org' });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('Sent: the server took it');
    const got = mail.messages.find((m) => m.envelopeTo.includes('kontroll@example.org'));
    expect(got, 'the SMTP server got the test').to.not.equal(undefined);
    expect(got!.envelopeFrom).to.equal('ny@bibliotek.example.org');
    expect(got!.parsed.subject).to.equal('A test from the Message Center of Centralbiblioteket');
  });

  it("sends a test SMS through the branch's own SMS account, and says why when it cannot", async () => {
    const res = await admin.post('/settings/test', { branch: 'CPL', which: 'sms', test_phone: '070-123 45 67' });
    expect(res.status).to.equal(200);
    expect(res.text, res.text).to.contain('Sent: the server took it');
    await smsc.waitFor(() => smsc.messages.length > 0);
    expect(smsc.messages[0]).to.include({ to: '46701234567', from: 'Biblioteket' });
    const bad = await admin.post('/settings/test', { branch: 'CPL', which: 'sms', test_phone: '12' });
    expect(bad.text).to.contain('Send a test SMS to: a mobile number');
    const badMail = await admin.post('/settings/test', { branch: 'CPL', which: 'email', test_email: '<script>x</script>' });
    expect(badMail.text).to.contain('Send a test e-mail to: an e-mail address');
    expect(badMail.text).to.not.contain('<script>x');
  });

  it('answers 403 without the settings permission, and refuses a change without the CSRF token', async () => {
    const tools = await as('tools');
    expect((await tools.get('/settings')).status).to.equal(403);
    expect((await tools.post('/settings', { branch: 'HAF', sender_email: 'x@example.org' })).status).to.equal(403);
    expect((await tools.post('/settings/test', { branch: 'HAF', which: 'email', test_email: 'x@example.org' })).status).to.equal(403);
    const res = await admin.agent.post('/settings').type('form').send({ branch: 'HAF', sender_email: 'x@example.org' });
    expect(res.status).to.equal(403);
    expect(await db.knex('kmc_branch_settings').where({ branchcode: 'HAF' }).first()).to.equal(undefined);
  });

  it('chooses the channels per message type for one branch, and the notice engine follows them', async () => {
    const page = await admin.get('/settings?branch=HAF');
    expect(page.text).to.contain('Channels per message type');
    const choices: Record<string, string> = { branch: 'HAF', ch_overdue_1_1: 'sms', ch_overdue_1_2: 'print', ch_overdue_1_3: 'none' };
    const res = await admin.post('/settings/channels', choices);
    expect(res.status, res.text).to.equal(303);
    const rules = await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, branchcode: 'HAF' });
    expect(rules).to.have.length(1);
    const baseline = await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, is_baseline: 1 }).first();
    expect(rules[0]).to.include({ channels: 'sms,print', categorycode: null, itemtype: null, delay_days: baseline.delay_days });
    // Other types and branches are untouched.
    expect(await db.knex('kmc_rules').where({ branchcode: 'HAF' }).whereNot({ message_type: 'overdue' })).to.have.length(0);
    expect(await db.knex('kmc_audit').where({ action: 'settings.channels', object_id: 'HAF' })).to.have.length(1);

    // Saving the same choice again changes nothing.
    await admin.post('/settings/channels', choices);
    expect(await db.knex('kmc_rules').where({ message_type: 'overdue', level: 1, branchcode: 'HAF' })).to.have.length(1);
    expect((await admin.get('/settings?branch=HAF')).text).to.contain(`href="/rules/${rules[0].id}"`);

    // Jürgen borrowed at HAF and has no mobile number: SMS first, then a letter, never e-mail.
    const result = await runNotices(running.services.notices, { type: 'overdue', date: '2026-11-24', startedBy: 'test' });
    expect(result.created).to.be.greaterThan(0);
    const jurgen = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.jurgen, message_type: 'overdue' }).first();
    expect(jurgen.channel).to.equal('print');
    const asa = await db.knex('kmc_messages').where({ borrowernumber: lib.patrons.asa, message_type: 'overdue' }).first();
    expect(asa.channel).to.equal('email');

    const none = await admin.post('/settings/channels', {
      branch: 'HAF',
      ch_welcome_0_1: 'none',
      ch_welcome_0_2: 'none',
      ch_welcome_0_3: 'none',
    });
    expect(none.status).to.equal(400);
    expect(none.text).to.contain('Welcome message: choose at least one channel.');
    expect(await db.knex('kmc_rules').where({ message_type: 'welcome', branchcode: 'HAF' })).to.have.length(0);
    const tools = await as('tools');
    expect((await tools.post('/settings/channels', choices)).status).to.equal(403);
  });

  it('shows stored values as text', async () => {
    await db.knex('kmc_branch_settings').insert({ branchcode: 'HAF', letter_address: '</textarea><script>alert(1)</script>' });
    const page = await admin.get('/settings?branch=HAF');
    expect(page.text).to.not.contain('<script>alert(1)');
    expect(page.text).to.contain('&lt;/textarea&gt;&lt;script&gt;');
  });
});
