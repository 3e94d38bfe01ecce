import { expect } from 'chai';
import {
  createVerificationToken,
  isSignedToken,
  tokenHash,
  sameHash,
  clientHash,
  addressFingerprint,
} from '../../sidecar/verification/tokens';
import { parseVerificationSettings } from '../../sidecar/verification/settings';
import { pageTexts, PAGE_TEXTS } from '../../sidecar/verification/page-texts';
import { NoticeRenderer } from '../../sidecar/rendering/notices';

const SECRET = 'a-test-secret-of-enough-length';

describe('verification links', () => {
  it('carry at least 128 bits of randomness and this sidecar’s signature', () => {
    const token = createVerificationToken(SECRET);
    const [random, mac] = token.split('.');
    expect(Buffer.from(random, 'base64url').length * 8).to.be.at.least(128);
    expect(Buffer.from(mac, 'base64url').length).to.equal(16);
    expect(isSignedToken(token, SECRET)).to.equal(true);
    expect(createVerificationToken(SECRET)).not.to.equal(token);
    // Safe in a URL path as it is.
    expect(encodeURIComponent(token)).to.equal(token);
  });

  it('refuse any change to the random part or the signature, and another secret', () => {
    const token = createVerificationToken(SECRET);
    for (let i = 0; i < token.length; i += 1) {
      if (token[i] === '.') continue;
      const changed = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      expect(isSignedToken(changed, SECRET), `position ${i}`).to.equal(false);
    }
    // The spare bits of the last character: a second spelling of the same signature is refused too.
    const last = token[token.length - 1];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBits = alphabet[(alphabet.indexOf(last) & 0b110000) | ((alphabet.indexOf(last) + 1) & 0b001111)];
    expect(Buffer.from(token.slice(-22, -1) + sameBits, 'base64url')).to.deep.equal(Buffer.from(token.slice(-22), 'base64url'));
    expect(isSignedToken(token.slice(0, -1) + sameBits, SECRET)).to.equal(false);
    expect(isSignedToken(token, `${SECRET}-other`)).to.equal(false);
    expect(isSignedToken(token.slice(0, -1), SECRET)).to.equal(false);
    expect(isSignedToken(`${token}A`, SECRET)).to.equal(false);
    for (const junk of ['', '.', 'x'.repeat(10_000), `${token}/../x`, token.replace('.', '')])
      expect(isSignedToken(junk, SECRET)).to.equal(false);
  });

  it('are stored as a hash only, compared in constant time', () => {
    const token = createVerificationToken(SECRET);
    const hash = tokenHash(token);
    expect(hash)
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.contain(token.split('.')[0]);
    expect(sameHash(hash, tokenHash(token))).to.equal(true);
    expect(sameHash(hash, tokenHash(createVerificationToken(SECRET)))).to.equal(false);
    expect(sameHash(null, hash)).to.equal(false);
    expect(sameHash('abc', hash)).to.equal(false);
  });

  it('client addresses and e-mail addresses are only kept as fingerprints', () => {
    expect(clientHash(SECRET, '192.0.2.1'))
      .to.match(/^[0-9a-f]{64}$/)
      .and.equal(clientHash(SECRET, '192.0.2.1'));
    expect(clientHash(SECRET, '192.0.2.1')).not.to.equal(clientHash(SECRET, '192.0.2.2'));
    expect(addressFingerprint('Asa@Example.org'))
      .to.equal(addressFingerprint('asa@example.org'))
      .and.match(/^[0-9a-f]{16}$/);
  });
});

describe('verification settings (kmc_settings)', () => {
  it('default to a 3-day link, no exempt category, and no writes to Koha', () => {
    const s = parseVerificationSettings({});
    expect(s.validDays).to.equal(3);
    expect([...s.exemptCategories]).to.deep.equal([]);
    expect(s.clearExpiredInKoha).to.equal(false);
  });

  it('read days, a comma-separated category list and the clear switch', () => {
    const s = parseVerificationSettings({
      verification_valid_days: '7',
      verification_exempt_categories: ' IMP, STAFF ,',
      verification_clear_expired_in_koha: '1',
    });
    expect(s).to.deep.include({ validDays: 7, clearExpiredInKoha: true });
    expect([...s.exemptCategories]).to.deep.equal(['IMP', 'STAFF']);
  });

  it('name the setting when a value is wrong', () => {
    expect(() => parseVerificationSettings({ verification_valid_days: '0' })).to.throw(
      /verification_valid_days: must be a whole number of days from 1 to 30, got "0"/,
    );
    expect(() => parseVerificationSettings({ verification_valid_days: '3.5' })).to.throw(/verification_valid_days/);
    expect(() => parseVerificationSettings({ verification_exempt_categories: 'PT;KI' })).to.throw(
      /verification_exempt_categories: "PT;KI" is not a patron category code/,
    );
    expect(() => parseVerificationSettings({ verification_clear_expired_in_koha: 'maybe' })).to.throw(
      /verification_clear_expired_in_koha: must be 1 \(on\) or 0 \(off\)/,
    );
  });
});

describe('the verification page and mail texts', () => {
  it('speak the patron’s language, falling back to English', () => {
    expect(pageTexts('sv-SE').lang).to.equal('sv');
    expect(pageTexts(null, 'da').lang).to.equal('da');
    expect(pageTexts('fr-FR', null).lang).to.equal('en');
    for (const t of Object.values(PAGE_TEXTS)) {
      for (const [key, value] of Object.entries(t)) expect(value, `${t.lang}.${key}`).to.be.a('string').and.not.equal('');
    }
  });

  it('the shipped verification mail carries the link and no patron data, in all four languages', () => {
    const r = new NoticeRenderer();
    const data = {
      branch: { name: 'Centralbiblioteket', phone: '', email: 'central@example.org', address: '' },
      link: 'https://lib.example/verify/abc.def',
      expires: '2026-11-27 06:00',
      valid_days: 3,
    };
    for (const lang of ['en', 'sv', 'da', 'de']) {
      const mail = r.render({ type: 'email_verification', channel: 'email', langs: [lang], branchcode: null, data });
      expect(mail.lang).to.equal(lang);
      expect(mail.subject).to.contain('Centralbiblioteket');
      expect(mail.text).to.contain('https://lib.example/verify/abc.def').and.contain('2026-11-27 06:00');
      expect(mail.html).to.contain('<a href="https://lib.example/verify/abc.def">');
    }
  });
});
