import { expect } from 'chai';
import { chooseChannel, isUsableEmail, toE164, workingChannels } from '../../sidecar/contact';
import type { PatronContact } from '../../sidecar/host';

const patron = (over: Partial<PatronContact> = {}): PatronContact => ({
  borrowernumber: 1,
  cardnumber: 'C1',
  surname: 'Öberg',
  firstname: 'Åsa',
  title: null,
  email: null,
  emailpro: null,
  B_email: null,
  mobile: null,
  smsalertnumber: null,
  phone: null,
  lang: 'sv-SE',
  branchcode: 'CPL',
  categorycode: 'PT',
  address: 'Ängsvägen 3',
  address2: null,
  zipcode: '123 45',
  city: 'Solna',
  country: null,
  ...over,
});

describe('patron contact data', () => {
  const good = ['asa.oberg@example.org', 'a+b@sub.example.co.uk', "o'brien@example.ie", 'x@xn--bcher-kva.example'];
  const bad = [
    'anna.lund@@example',
    'no-at-sign.example.org',
    'space in@example.org',
    'a@b',
    'a@-example.org',
    '.a@example.org',
    'a..b@example.org',
    'a@example.o',
    '',
    ' ',
    'åsa@example.org',
  ];
  for (const e of good) it(`takes ${e}`, () => expect(isUsableEmail(e)).to.equal(true));
  for (const e of bad) it(`refuses ${JSON.stringify(e)}`, () => expect(isUsableEmail(e)).to.equal(false));

  it('reads phone numbers into E.164 with the default country', () => {
    expect(toE164('070-123 45 67', 'SE')).to.equal('+46701234567');
    expect(toE164('+45 20 12 34 56', 'SE')).to.equal('+4520123456');
    expect(toE164('12', 'SE')).to.equal(null);
    expect(toE164('call me', 'SE')).to.equal(null);
  });

  it('takes the first allowed channel with a usable address, and exactly one', () => {
    expect(chooseChannel(['email', 'print'], patron({ email: 'asa@example.org' }), { defaultCountry: 'SE' })).to.deep.equal({
      ok: true,
      channel: 'email',
      to: 'asa@example.org',
    });
    expect(
      chooseChannel(['sms', 'email', 'print'], patron({ email: 'asa@example.org', mobile: '0701234567' }), { defaultCountry: 'SE' }),
    ).to.deep.equal({ ok: true, channel: 'sms', to: '+46701234567' });
    const letter = chooseChannel(['email', 'print'], patron({ email: 'bad@@x' }), { defaultCountry: 'SE' });
    expect(letter).to.include({ ok: true, channel: 'print' });
    expect((letter as { to: string }).to).to.equal('Åsa Öberg\nÄngsvägen 3\n123 45 Solna');
  });

  it('falls back to the secondary address when the primary is malformed', () => {
    expect(chooseChannel(['email'], patron({ email: 'bad@@x', emailpro: 'work@example.org' }), { defaultCountry: 'SE' })).to.deep.equal({
      ok: true,
      channel: 'email',
      to: 'work@example.org',
    });
  });

  it('uses the notice address the caller already read, and reads it itself only when not given', () => {
    const p = patron({ email: 'asa@example.org' });
    // A run reads each patron's address once (patronEmail) and hands it over; none read means none usable.
    expect(chooseChannel(['email', 'print'], p, { defaultCountry: 'SE', email: 'work@example.org' })).to.deep.equal({
      ok: true,
      channel: 'email',
      to: 'work@example.org',
    });
    expect(chooseChannel(['email', 'print'], p, { defaultCountry: 'SE', email: null })).to.include({ ok: true, channel: 'print' });
    expect(chooseChannel(['email', 'print'], p, { defaultCountry: 'SE' })).to.include({
      ok: true,
      channel: 'email',
      to: 'asa@example.org',
    });
  });

  it('says why when no allowed channel can carry the notice', () => {
    expect(chooseChannel(['email', 'sms'], patron({ email: 'x@@y', mobile: '12' }), { defaultCountry: 'SE' })).to.deep.equal({
      ok: false,
      reason: 'email: e-mail address is not valid; sms: mobile number is not valid; print: letters not allowed by the rule',
    });
  });

  it('passes over a channel that is not set up', () => {
    expect(
      chooseChannel(['sms', 'print'], patron({ mobile: '0701234567' }), { defaultCountry: 'SE', available: ['email', 'print'] }),
    ).to.include({ ok: true, channel: 'print' });
  });
});

describe('the channels staff may choose for a notice', () => {
  const all = ['email', 'sms', 'print'] as const;
  const base = { defaultCountry: 'SE', available: all, branchSendsSms: true };

  it('offers e-mail only for a usable address in good standing, and SMS only with an account and a mobile number', () => {
    const full = patron({ email: 'asa.oberg@example.org', mobile: '0701234567' });
    expect(workingChannels(full, base)).to.deep.equal(['email', 'sms', 'print']);
    expect(workingChannels(full, { ...base, branchSendsSms: false })).to.deep.equal(['email', 'print']);
    expect(workingChannels(full, { ...base, available: ['email', 'print'] })).to.deep.equal(['email', 'print']);
    for (const state of ['held', 'expired', 'undeliverable', 'complained'])
      expect(workingChannels(full, { ...base, emailState: state }), state).to.deep.equal(['sms', 'print']);
    expect(workingChannels(patron({ email: 'anna.lund@@example', mobile: '12' }), base)).to.deep.equal(['print']);
    expect(workingChannels(null, base)).to.deep.equal(['print']);
  });
});
