/**
 * Settings of mail that providers trust (DKIM keys, sending limits in the
 * shape of Koha's message_domain_limits) and kmc doctor's DKIM check, which
 * compares the key with what DNS publishes and says what to publish.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimKeyFor, dkimRecordText, loadSettings } from '../../sidecar/config';
import { dkimFindings, doctorDeps } from '../../sidecar/doctor';
import { settingsRefusal } from '../support/settings';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-mailtrust-'));
function keyFile(name: string, bits = 2048): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const file = path.join(dir, name);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}
const libraryKey = keyFile('library.pem');
const otherKey = keyFile('other.pem');

describe('DKIM keys (KMC_DKIM_KEYS)', () => {
  it('are read per domain, with the record to publish, and chosen by the sender domain or its parent', () => {
    const s = loadSettings({ KMC_DKIM_KEYS: `Library.Example.org:kmc2026:${libraryKey},\nbranch.example.net:s1:${otherKey}` });
    expect(s.dkim.map((k) => [k.domain, k.selector, k.file])).to.deep.equal([
      ['library.example.org', 'kmc2026', libraryKey],
      ['branch.example.net', 's1', otherKey],
    ]);
    expect(dkimRecordText(s.dkim[0])).to.match(/^v=DKIM1; k=rsa; p=MII[A-Za-z0-9+/=]+$/);
    expect(dkimKeyFor(s.dkim, 'Library <desk@north.library.example.org>')?.domain).to.equal('library.example.org');
    expect(dkimKeyFor(s.dkim, 'desk@branch.example.net')?.selector).to.equal('s1');
    expect(dkimKeyFor(s.dkim, 'desk@example.org')).to.equal(null);
    expect(loadSettings({}).dkim).to.deep.equal([]);
  });

  const notAKey = path.join(dir, 'not-a-key.pem');
  writeFileSync(notAKey, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
  const edKey = path.join(dir, 'ed.pem');
  writeFileSync(edKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const cases: Array<[string, RegExp]> = [
    ['library.example.org:kmc2026', /must be DOMAIN:SELECTOR:KEYFILE/],
    [`not a domain:kmc:${libraryKey}`, /is not a domain name/],
    [`library.example.org:bad selector:${libraryKey}`, /is not a DKIM selector/],
    ['library.example.org:kmc:/nonexistent/key.pem', /cannot read the key file \/nonexistent\/key.pem of library.example.org/],
    [`library.example.org:kmc:${notAKey}`, /holds no usable private key/],
    [`library.example.org:kmc:${edKey}`, /holds a ed25519 key; DKIM here signs with RSA/],
    [`library.example.org:kmc:${libraryKey},library.example.org:k2:${otherKey}`, /names the domain library.example.org twice/],
  ];
  for (const [value, why] of cases) {
    it(`refuse ${value.replace(dir, '…')} naming the setting`, () => {
      expect(settingsRefusal({ KMC_DKIM_KEYS: value }).message)
        .to.match(/KMC_DKIM_KEYS/)
        .and.match(why);
    });
  }
});

describe("kmc doctor's DKIM check", () => {
  const [key] = loadSettings({ KMC_DKIM_KEYS: `library.example.org:kmc2026:${libraryKey}` }).dkim;
  const [other] = loadSettings({ KMC_DKIM_KEYS: `library.example.org:kmc2026:${otherKey}` }).dkim;
  const record = dkimRecordText(key);
  /** DNS splits long TXT records into strings of at most 255 characters. */
  const asDns = (text: string): string[] => text.match(/.{1,255}/g) ?? [];
  const answering =
    (records: string[][] | Error) =>
    (name: string): Promise<string[][]> =>
      name === 'kmc2026._domainkey.library.example.org' && !(records instanceof Error)
        ? Promise.resolve(records)
        : Promise.reject(records instanceof Error ? records : Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));

  it('finds the published record matching the key', async () => {
    const [f] = await dkimFindings({ resolveTxt: answering([['v=spf1 -all'], asDns(record)]) }, [key]);
    expect(f).to.include({ verdict: 'ok', hint: null });
  });

  it('finds another key published: a problem, with the record to publish', async () => {
    const [f] = await dkimFindings({ resolveTxt: answering([asDns(dkimRecordText(other))]) }, [key]);
    expect(f.verdict).to.equal('problem');
    expect(f.says).to.match(/holds another key/);
    expect(f.hint).to.include(`kmc2026._domainkey.library.example.org with the text: ${record}`);
  });

  it('finds nothing published: a warning that says what to publish', async () => {
    const [f] = await dkimFindings({ resolveTxt: answering([]) }, [{ ...key, selector: 'missing' }]);
    expect(f.verdict).to.equal('warning');
    expect(f.hint).to.include('missing._domainkey.library.example.org').and.include(record);
  });

  it('does not fail when DNS cannot be asked: it says so, and what to publish', async () => {
    const down = Object.assign(new Error('queryTxt ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const [f] = await dkimFindings({ resolveTxt: answering(down) }, [key]);
    expect(f.verdict).to.equal('not_checked');
    expect(f.says).to.match(/DNS could not be asked from here \(ECONNREFUSED\)/);
    expect(f.hint).to.include(record);
  });

  it("with the machine's own resolver, a name that cannot exist is never a problem", async function () {
    this.timeout(15_000);
    const [f] = await dkimFindings(doctorDeps({}), [{ ...key, domain: 'library.invalid' }]);
    expect(['warning', 'not_checked']).to.include(f.verdict);
    expect(f.hint).to.include(record);
  });
});

describe("sending limits (Koha's message_domain_limits)", () => {
  const xml = `<message_domain_limits>
    <domain><name>mail.example.net</name><limit>60</limit><unit>60m</unit></domain>
    <!-- <domain><name>commented.example</name><limit>1</limit><unit>1d</unit></domain> -->
    <domain><name>Example.com</name><limit>2</limit><unit>1d</unit></domain>
    <domain><name>example.nl</name><belongs_to>example.com</belongs_to></domain>
  </message_domain_limits>`;

  it('read the element pasted in or from koha-conf.xml, with the relay and SMS account limits', () => {
    const conf = path.join(dir, 'koha-conf.xml');
    writeFileSync(conf, `<yazgfs><config>\n<db_scheme>mysql</db_scheme>\n${xml}\n</config></yazgfs>`);
    for (const value of [xml, conf]) {
      const s = loadSettings({ KMC_MESSAGE_DOMAIN_LIMITS: value, KMC_SMTP_PER_MINUTE: '600', KMC_SMS_PER_SECOND: '20' });
      expect(s.limits).to.deep.equal({
        domains: [
          { domain: 'mail.example.net', limit: 60, unit: '60m', windowMs: 3_600_000 },
          { domain: 'example.com', limit: 2, unit: '1d', windowMs: 86_400_000 },
        ],
        belongsTo: { 'example.nl': 'example.com' },
        smtpPerMinute: 600,
        smsPerSecond: 20,
      });
    }
    expect(loadSettings({}).limits).to.deep.equal({ domains: [], belongsTo: {}, smtpPerMinute: 0, smsPerSecond: 0 });
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['KMC_MESSAGE_DOMAIN_LIMITS', { KMC_MESSAGE_DOMAIN_LIMITS: '/nonexistent/koha-conf.xml' }, /nor a readable file/],
    ['KMC_MESSAGE_DOMAIN_LIMITS', { KMC_MESSAGE_DOMAIN_LIMITS: '<config></config>' }, /no <message_domain_limits> element/],
    [
      'KMC_MESSAGE_DOMAIN_LIMITS',
      {
        KMC_MESSAGE_DOMAIN_LIMITS:
          '<message_domain_limits><domain><name>a.example</name><limit>5</limit><unit>5x</unit></domain></message_domain_limits>',
      },
      /the <unit> of a.example must be a number and m, h or d/,
    ],
    [
      'KMC_MESSAGE_DOMAIN_LIMITS',
      {
        KMC_MESSAGE_DOMAIN_LIMITS:
          '<message_domain_limits><domain><name>a.example</name><limit>0</limit><unit>1h</unit></domain></message_domain_limits>',
      },
      /the <limit> of a.example must be a whole number of at least 1, got "0"/,
    ],
    [
      'KMC_MESSAGE_DOMAIN_LIMITS',
      {
        KMC_MESSAGE_DOMAIN_LIMITS:
          '<message_domain_limits><domain><name>b.example</name><belongs_to>a.example</belongs_to></domain></message_domain_limits>',
      },
      /b.example belongs to a.example, which has no <limit> of its own/,
    ],
    ['KMC_SMTP_PER_MINUTE', { KMC_SMTP_PER_MINUTE: 'fast' }, /whole number from 0/],
    ['KMC_SMS_PER_SECOND', { KMC_SMS_PER_SECOND: '-3' }, /whole number from 0/],
  ];
  for (const [name, env, why] of cases) {
    it(`refuse a bad ${name} naming it (${why.source.slice(0, 40)})`, () => {
      expect(settingsRefusal(env).message).to.match(new RegExp(name)).and.match(why);
    });
  }
});
