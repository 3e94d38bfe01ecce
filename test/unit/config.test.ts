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
    ['KMC_SECRET', { KMC_SECRET: 'short' }, /at least 16/],
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

  it('never repeats a password in an error', () => {
    const err = refusal({ KMC_DATABASE_URL: 'mysql://kmc:s3cret@db.example.org:3306', KMC_SMTP_URL: 'smtp://x' });
    expect(err.message).not.to.contain('s3cret');
    expect(redact('smpp://sys:pw@smsc.example.org:2775')).to.equal('smpp://sys:***@smsc.example.org:2775');
  });
});
