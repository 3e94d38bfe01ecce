import { expect } from 'chai';
import { loadSettings, redact } from '../../sidecar/config';
import { settingsRefusal } from '../support/settings';

const refusal = settingsRefusal;

describe('settings', () => {
  it('works with no environment at all, against the local MariaDB', () => {
    const s = loadSettings({});
    expect(s.databaseUrl).to.equal('mysql://root@127.0.0.1:3306/koha');
    expect(s.host).to.equal('127.0.0.1');
    expect(s.port).to.equal(8480);
    expect(s.publicUrl).to.equal('http://127.0.0.1:8480');
    expect(s.smppUrl).to.equal(null);
    expect(s.withoutPlugin).to.equal(false);
    expect(loadSettings({ KMC_WITHOUT_PLUGIN: 'on' }).withoutPlugin).to.equal(true);
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['KMC_DATABASE_URL', { KMC_DATABASE_URL: 'postgres://x@h/db' }, /must start with mysql:\/\//],
    ['KMC_DATABASE_URL', { KMC_DATABASE_URL: 'mysql://root@127.0.0.1:3306' }, /names no database/],
    ['KMC_DATABASE_URL', { KMC_DATABASE_URL: 'not a url' }, /is not a URL/],
    ['KMC_SMTP_URL', { KMC_SMTP_URL: 'http://mail' }, /smtp:\/\//],
    ['KMC_SMPP_URL', { KMC_SMPP_URL: 'smtp://x' }, /smpp:\/\//],
    ['KMC_PORT', { KMC_PORT: '80a' }, /port number/],
    ['KMC_PORT', { KMC_PORT: '70000' }, /port number/],
    ['KMC_TIMEZONE', { KMC_TIMEZONE: 'Mars/Olympus' }, /IANA time zone/],
    ['KMC_DEFAULT_COUNTRY', { KMC_DEFAULT_COUNTRY: 'Sweden' }, /two-letter/],
    ['KMC_LOG_LEVEL', { KMC_LOG_LEVEL: 'loud' }, /one of error/],
    ['KMC_WITHOUT_PLUGIN', { KMC_WITHOUT_PLUGIN: 'perhaps' }, /must be on or off/],
    ['KMC_SECRET', { KMC_SECRET: 'short' }, /at least 32 bytes/],
    // 31 bytes: one short of the least a signing key may have.
    ['KMC_SECRET', { KMC_SECRET: 'the library secret, long enough' }, /at least 32 bytes/],
    ['KMC_SECRET', { KMC_HOST: '0.0.0.0' }, /secret of your own/],
    ['KMC_PUBLIC_URL', { KMC_PUBLIC_URL: 'ftp://x' }, /http:\/\//],
  ];
  for (const [setting, env, why] of cases) {
    it(`refuses a bad ${setting} and names it (${JSON.stringify(env)})`, () => {
      const err = refusal(env);
      expect(err.setting).to.equal(setting);
      expect(err.message)
        .to.match(new RegExp(`^${setting}: `))
        .and.match(why);
      expect(err.code).to.equal('KMC_SETTINGS_INVALID');
    });
  }

  describe('the development secret', () => {
    const proxied = { KMC_HOST: '127.0.0.1', KMC_PUBLIC_URL: 'https://messages.library.example', KMC_TRUST_PROXY: 'loopback' };

    it('is refused behind a reverse proxy, the set-up the README documents, naming KMC_SECRET', () => {
      const err = refusal(proxied);
      expect(err.setting).to.equal('KMC_SECRET');
      expect(err.message).to.match(/^KMC_SECRET: /);
    });

    const notLoopback: Array<[string, Record<string, string>]> = [
      ['a public URL over https', { KMC_PUBLIC_URL: 'https://127.0.0.1:8480' }],
      ['a public URL on another host', { KMC_PUBLIC_URL: 'http://messages.library.example' }],
      ['trusted proxies', { KMC_TRUST_PROXY: 'loopback' }],
      ['a number of trusted proxies', { KMC_TRUST_PROXY: '1' }],
      ['a host beyond loopback', { KMC_HOST: '0.0.0.0' }],
      ['the development secret set by hand', { KMC_SECRET: 'kmc-development-secret-change-me', KMC_HOST: '192.0.2.10' }],
    ];
    for (const [what, env] of notLoopback) {
      it(`is refused with ${what}`, () => {
        expect(refusal(env).setting).to.equal('KMC_SECRET');
      });
    }

    it('works only when host, public URL and proxies are all loopback and plain http', () => {
      expect(loadSettings({}).secret).to.equal('kmc-development-secret-change-me');
      expect(loadSettings({ KMC_HOST: 'localhost', KMC_PUBLIC_URL: 'http://localhost:8480' }).secret).to.equal(
        'kmc-development-secret-change-me',
      );
      expect(loadSettings({ KMC_HOST: '::1', KMC_PUBLIC_URL: 'http://[::1]:8480' }).secret).to.equal('kmc-development-secret-change-me');
    });

    it('gives way to a secret of 32 bytes or more, counted in bytes', () => {
      const own = 'x'.repeat(32);
      expect(loadSettings({ ...proxied, KMC_SECRET: own }).secret).to.equal(own);
      // Eleven characters of three bytes each: 33 bytes.
      expect(loadSettings({ ...proxied, KMC_SECRET: '✓'.repeat(11) }).secret).to.equal('✓'.repeat(11));
    });
  });

  it('a first run follows Koha by default; other choices are named, a wrong one names its setting', () => {
    expect(loadSettings({}).firstRun).to.deep.equal({ overdue: 'koha', holds: 'skip' });
    expect(loadSettings({ KMC_FIRST_RUN_OVERDUE: 'All-Levels', KMC_FIRST_RUN_HOLDS: 'notify' }).firstRun).to.deep.equal({
      overdue: 'all-levels',
      holds: 'notify',
    });
    expect(refusal({ KMC_FIRST_RUN_OVERDUE: 'level1' }).message)
      .to.contain('KMC_FIRST_RUN_OVERDUE')
      .and.contain('koha or all-levels');
    expect(refusal({ KMC_FIRST_RUN_HOLDS: 'yes' }).message).to.contain('KMC_FIRST_RUN_HOLDS');
  });

  it('never repeats a password in an error', () => {
    const err = refusal({ KMC_DATABASE_URL: 'mysql://kmc:s3cret@db.example.org:3306', KMC_SMTP_URL: 'smtp://x' });
    expect(err.message).not.to.contain('s3cret');
    expect(redact('smpp://sys:pw@smsc.example.org:2775')).to.equal('smpp://sys:***@smsc.example.org:2775');
  });
});
