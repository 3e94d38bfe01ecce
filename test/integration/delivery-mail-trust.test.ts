/**
 * Mail that providers trust, on real captured mail: the delivery worker
 * sends through the real SMTP capture server; each notice carries the
 * headers of an automatic message and the branch's Reply-To, and a notice
 * from a domain with a DKIM key verifies with an independent verifier
 * (mailauth) given the published public key, while a changed copy does not.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { kohaSchemaKind } from '../support/koha';
import { deliveryWorld } from './delivery-support';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import type { CapturedMail } from '../../sidecar/demo/capture-smtp';
import { dkimKeyOf, dkimRecordText } from '../../sidecar/config';
import { readVerpTag } from '../../sidecar/bounces';
import type { NewMessage } from '../../sidecar/queue';
import { BRANCH_MAIL_REFRESH_MS, BranchSettingsStore } from '../../sidecar/branches';

let serial = 0;
function email(from: string, over: Partial<NewMessage> = {}): NewMessage {
  serial += 1;
  return {
    idempotencyKey: `test:trust:${String(serial)}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 5000 + serial,
    branchcode: 'CPL',
    channel: 'email',
    status: 'pending',
    to: `patron${String(serial)}@mail.example.net`,
    from,
    replyTo: 'circulation@library.example.org',
    lang: 'en',
    subject: `Overdue notice ${String(serial)}`,
    text: `Your loan is overdue (${String(serial)}).\nPlease return it.`,
    html: `<p>Your loan is overdue (${String(serial)}).</p>`,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
    ...over,
  };
}

describe(`mail that providers trust (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  const world = deliveryWorld('mailtrust');
  let published: string;
  const keyDir = mkdtempSync(path.join(os.tmpdir(), 'kmc-dkim-'));

  /** A resolver that answers as DNS would with the published record, and nothing else. */
  const resolver = (name: string, rrtype: string): Promise<string[][]> => {
    if (rrtype === 'TXT' && name === 'kmc2026._domainkey.library.example.org') return Promise.resolve([[published]]);
    return Promise.reject(Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' }));
  };

  it('signs each sending domain with its key, with the headers of an automatic message and the branch Reply-To', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = path.join(keyDir, 'library.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const settings = testSettings(world.db.url, {
      KMC_SMTP_URL: world.smtp.url,
      KMC_DKIM_KEYS: `library.example.org:kmc2026:${keyFile}`,
    });
    published = dkimRecordText(settings.dkim[0]);
    const clock = new TestClock(new Date('2026-11-02T08:00:00Z'));
    const kmc = testServices(settings, clock, { adapters: {} });
    try {
      await kmc.startChannels();
      await kmc.store.insertMessages(
        [
          email('Centralbiblioteket <library@library.example.org>'),
          // A branch on a subdomain signs with its parent domain's key.
          email('branch@north.library.example.org'),
          // No key for this domain: unsigned, still sent.
          email('library@other.example.com', { replyTo: null }),
        ],
        clock.now(),
        'test',
      );
      const stats = await kmc.worker.deliverOnce();
      expect(stats).to.include({ sent: 3, failed: 0 });
    } finally {
      await kmc.close();
    }
    const byFrom = (from: string): CapturedMail => world.smtp.messages.find((m) => m.parsed.from?.value[0]?.address === from)!;

    for (const m of world.smtp.messages) {
      expect(m.parsed.headers.get('auto-submitted')).to.equal('auto-generated');
      expect(m.parsed.headers.get('x-auto-response-suppress')).to.equal('All');
      expect(m.parsed.headers.get('precedence')).to.equal('bulk');
    }
    expect(byFrom('library@library.example.org').parsed.replyTo?.text).to.equal('circulation@library.example.org');
    expect(byFrom('library@other.example.com').parsed.replyTo).to.equal(undefined);

    for (const from of ['library@library.example.org', 'branch@north.library.example.org']) {
      const { raw } = byFrom(from);
      const verdict = await dkimVerify(raw, { resolver });
      expect(verdict.results, from).to.have.length(1);
      expect(verdict.results[0]).to.deep.include({ signingDomain: 'library.example.org', selector: 'kmc2026' });
      expect(verdict.results[0].status.result, from).to.equal('pass');
      // The same message changed on the way does not verify: the verifier can say no.
      const changed = raw.replace(/Your loan is overdue/, 'Your loan is fine');
      const refused = await dkimVerify(changed, { resolver });
      expect(refused.results[0].status.result, `${from}, changed`).to.not.equal('pass');
    }
    const unsigned = await dkimVerify(byFrom('library@other.example.com').raw, { resolver });
    expect(unsigned.results.map((r) => r.status.result)).to.deep.equal(['none']);
  });

  it("a branch's notice gets its own VERP domain and is signed with the branch's own DKIM key (its settings)", async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const branchKey = dkimKeyOf('stadtbibliothek.example.net', 'hafen1', pem, 'test').key!;
    const branchResolver = (name: string, rrtype: string): Promise<string[][]> => {
      if (rrtype === 'TXT' && name === 'hafen1._domainkey.stadtbibliothek.example.net')
        return Promise.resolve([[dkimRecordText(branchKey)]]);
      return Promise.reject(Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' }));
    };
    const settings = testSettings(world.db.url, { KMC_SMTP_URL: world.smtp.url, KMC_BOUNCE_DOMAIN: 'bounce.library.example.org' });
    const clock = new TestClock(new Date('2026-11-02T09:00:00Z'));
    const kmc = testServices(settings, clock, { adapters: {} });
    const before = world.smtp.messages.length;
    try {
      await kmc.branches.saveMail('HAF', {
        bounce_domain: 'retur.stadtbibliothek.example.net',
        dkim_domain: 'stadtbibliothek.example.net',
        dkim_selector: 'hafen1',
        dkim_private_key: pem,
      });
      // Saved again without a key: the stored key is kept.
      await kmc.branches.saveMail('HAF', {
        bounce_domain: 'retur.stadtbibliothek.example.net',
        dkim_domain: 'stadtbibliothek.example.net',
        dkim_selector: 'hafen1',
        dkim_private_key: null,
      });
      await kmc.startChannels();
      const { ids } = await kmc.store.insertMessages(
        [
          email('Stadtbibliothek am Hafen <hafen@stadtbibliothek.example.net>', { branchcode: 'HAF' }),
          email('central@library.example.org', { branchcode: 'CPL' }),
        ],
        clock.now(),
        'test',
      );
      expect(await kmc.worker.deliverOnce()).to.include({ sent: 2, failed: 0 });
      const got = world.smtp.messages.slice(before);
      const hafen = got.find((m) => m.parsed.from?.value[0]?.address === 'hafen@stadtbibliothek.example.net')!;
      const central = got.find((m) => m.parsed.from?.value[0]?.address === 'central@library.example.org')!;

      // Each return path at its own domain, and each a genuine tag of its own message.
      expect(hafen.envelopeFrom).to.match(/^bounce\+[^@]+@retur\.stadtbibliothek\.example\.net$/);
      expect(central.envelopeFrom).to.match(/^bounce\+[^@]+@bounce\.library\.example\.org$/);
      const tagOf = (path: string) => path.slice(path.indexOf('+') + 1, path.indexOf('@'));
      expect(readVerpTag(tagOf(hafen.envelopeFrom), settings.secret)).to.deep.equal({ messageId: ids[0] });
      expect(readVerpTag(tagOf(central.envelopeFrom), settings.secret)).to.deep.equal({ messageId: ids[1] });

      // Signed with the branch's key, which an independent verifier accepts given the published record.
      const verdict = await dkimVerify(hafen.raw, { resolver: branchResolver });
      expect(verdict.results).to.have.length(1);
      expect(verdict.results[0]).to.deep.include({ signingDomain: 'stadtbibliothek.example.net', selector: 'hafen1' });
      expect(verdict.results[0].status.result).to.equal('pass');
      const changed = await dkimVerify(hafen.raw.replace(/Your loan is overdue/, 'Your loan is fine'), { resolver: branchResolver });
      expect(changed.results[0].status.result).to.not.equal('pass');
      // The other branch has no key of its own and none in KMC_DKIM_KEYS: unsigned.
      expect((await dkimVerify(central.raw, { resolver: branchResolver })).results.map((r) => r.status.result)).to.deep.equal(['none']);
    } finally {
      await kmc.close();
    }
  });

  it("a branch's mail identity is read once for a burst of e-mail, again when its time is up, and at once after a save", async () => {
    let now = 1_000_000;
    const branches = new BranchSettingsStore(world.db.knex, () => now);
    const input = { bounce_domain: 'first.example.net', dkim_domain: null, dkim_selector: null, dkim_private_key: null };
    await branches.saveMail('BUR', input);
    expect((await branches.mail('BUR'))?.bounceDomain).to.equal('first.example.net');
    // Another process changes it: within the refresh time the burst goes on with what it read.
    await world.db.knex('kmc_branch_settings').where({ branchcode: 'BUR' }).update({ bounce_domain: 'second.example.net' });
    now += BRANCH_MAIL_REFRESH_MS - 1;
    expect((await branches.mail('BUR'))?.bounceDomain).to.equal('first.example.net');
    now += 1;
    expect((await branches.mail('BUR'))?.bounceDomain).to.equal('second.example.net');
    // Saved here: the next message has it without waiting.
    await branches.saveMail('BUR', { ...input, bounce_domain: 'third.example.net' });
    expect((await branches.mail('BUR'))?.bounceDomain).to.equal('third.example.net');
  });
});
