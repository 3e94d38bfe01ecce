import { expect } from 'chai';
import { isE164, messageIdFor, readSmsSender } from '../../sidecar/kernel';

describe('kernel: message ids and SMS senders', () => {
  it('gives an e-mail a Message-ID with the message id and the sender domain, new each time', () => {
    const first = messageIdFor(42, 'notices@bib.example.org');
    expect(first).to.match(/^<kmc\.42\.[0-9a-f]{12}@bib\.example\.org>$/);
    expect(messageIdFor(42, 'notices@bib.example.org')).to.not.equal(first);
    expect(messageIdFor(7, 'Main library')).to.match(/^<kmc\.7\.[0-9a-f]{12}@kmc\.invalid>$/);
  });

  it('tells international phone numbers from the rest', () => {
    expect(isE164('+4791234567')).to.equal(true);
    for (const bad of ['4791234567', '+0791234567', '+47 912', '+1234567890123456', '']) expect(isE164(bad), bad).to.equal(false);
  });

  it('reads each form of SMS sender, and says why a sender cannot be one', () => {
    const forms = (from: string): string | null => {
      const reading = readSmsSender(from);
      return reading.ok ? `${reading.sender.form}:${reading.sender.addr}` : null;
    };
    expect(forms('  ')).to.equal('account_default:');
    expect(forms('+4722334455')).to.equal('international:4722334455');
    expect(forms('2222')).to.equal('short_code:2222');
    expect(forms('22334455')).to.equal('national:22334455');
    expect(forms(' Oslo Bib 1 ')).to.equal('alphanumeric:Oslo Bib 1');
    const tooLong = readSmsSender('ThisNameIsTooLong');
    expect(tooLong.ok).to.equal(false);
    if (!tooLong.ok) expect(tooLong.problem).to.match(/1 to 11 plain ASCII characters/);
    const phoneLike = readSmsSender('12-34');
    expect(phoneLike.ok).to.equal(false);
    if (!phoneLike.ok) expect(phoneLike.problem).to.match(/looks like a phone number/);
  });
});
