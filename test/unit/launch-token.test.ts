import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import {
  LAUNCH_TOKEN_LIFETIME_SECONDS,
  LAUNCH_TOKEN_MAX_AHEAD_SECONDS,
  LaunchTokenInputError,
  safeNextPath,
  signLaunchToken,
  verifyLaunchToken,
} from '../../sidecar/web/auth/launch-token';

const SECRET = 'a shared secret of some length';
const NOW = 1_795_000_000;
const NONCE = '0123456789abcdef0123456789abcdef';

/** A token written out by hand from the contract, not by signLaunchToken. */
function handMade(secret: string, borrower: string, expires: string, nonce: string): string {
  const payload = `v1.${borrower}.${expires}.${nonce}`;
  return `${payload}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(payload).digest('hex')}`;
}

describe('launch token', () => {
  it('signs per the contract: v1, borrowernumber, now + 120 s, the nonce, lowercase hex HMAC-SHA256', () => {
    const token = signLaunchToken(SECRET, 51, NOW, NONCE);
    expect(token).to.equal(handMade(SECRET, '51', String(NOW + 120), NONCE));
    expect(LAUNCH_TOKEN_LIFETIME_SECONDS).to.equal(120);
  });

  it('accepts a good token and says who and until when', () => {
    const check = verifyLaunchToken(SECRET, signLaunchToken(SECRET, 51, NOW, NONCE), NOW + 5);
    expect(check).to.deep.equal({ ok: true, borrowernumber: 51, expires: NOW + 120, nonce: NONCE });
  });

  it('makes a fresh random nonce each time when none is given', () => {
    const a = signLaunchToken(SECRET, 7, NOW);
    const b = signLaunchToken(SECRET, 7, NOW);
    expect(a.split('.')[3]).to.match(/^[0-9a-f]{32}$/);
    expect(a).not.to.equal(b);
    expect(verifyLaunchToken(SECRET, a, NOW).ok).to.equal(true);
  });

  it('keys the HMAC with the secret as UTF-8', () => {
    const secret = 'bibliotekets hemlighet: åäö ✓';
    const token = handMade(secret, '3', String(NOW + 60), NONCE);
    expect(verifyLaunchToken(secret, token, NOW)).to.include({ ok: true, borrowernumber: 3 });
    expect(signLaunchToken(secret, 3, NOW - 60, NONCE)).to.equal(token);
  });

  it('refuses a token with any one byte changed, wherever it is', () => {
    const token = signLaunchToken(SECRET, 51, NOW, NONCE);
    const refusals = new Set<string>();
    for (let i = 0; i < token.length; i++) {
      for (const replacement of new Set(['0', 'f', '1', '.', 'X', 'v'])) {
        if (replacement === token[i]) continue;
        const changed = token.slice(0, i) + replacement + token.slice(i + 1);
        const check = verifyLaunchToken(SECRET, changed, NOW);
        expect(check.ok, `byte ${i} changed to ${replacement}: ${changed}`).to.equal(false);
        if (!check.ok) refusals.add(check.reason);
      }
    }
    // changes inside the numbers or the nonce keep the shape and fail the signature
    expect([...refusals].sort()).to.deep.equal(['format', 'signature']);
  });

  it('refuses an expired token, and one that expires this very second', () => {
    const token = signLaunchToken(SECRET, 51, NOW, NONCE);
    expect(verifyLaunchToken(SECRET, token, NOW + 119).ok).to.equal(true);
    expect(verifyLaunchToken(SECRET, token, NOW + 120)).to.deep.equal({ ok: false, reason: 'expired' });
    expect(verifyLaunchToken(SECRET, token, NOW + 3600)).to.deep.equal({ ok: false, reason: 'expired' });
  });

  it('refuses a token that expires more than 300 s ahead, even when well signed', () => {
    expect(LAUNCH_TOKEN_MAX_AHEAD_SECONDS).to.equal(300);
    expect(verifyLaunchToken(SECRET, handMade(SECRET, '51', String(NOW + 300), NONCE), NOW).ok).to.equal(true);
    expect(verifyLaunchToken(SECRET, handMade(SECRET, '51', String(NOW + 301), NONCE), NOW)).to.deep.equal({
      ok: false,
      reason: 'too_far_ahead',
    });
    // a token made by a Koha whose clock runs 10 minutes fast
    expect(verifyLaunchToken(SECRET, signLaunchToken(SECRET, 51, NOW + 600, NONCE), NOW)).to.deep.equal({
      ok: false,
      reason: 'too_far_ahead',
    });
  });

  it('refuses a token signed with another secret', () => {
    const token = signLaunchToken('another secret, also long', 51, NOW, NONCE);
    expect(verifyLaunchToken(SECRET, token, NOW)).to.deep.equal({ ok: false, reason: 'signature' });
  });

  it('checks the signature before the time, so a forged token learns nothing about the clock', () => {
    const forged = handMade('not the secret at all', '51', String(NOW - 1000), NONCE);
    expect(verifyLaunchToken(SECRET, forged, NOW)).to.deep.equal({ ok: false, reason: 'signature' });
  });

  const good = signLaunchToken(SECRET, 51, NOW, NONCE);
  const [, , expires, , sig] = good.split('.');
  const badShapes: Array<[string, unknown]> = [
    ['empty', ''],
    ['not a string', 42],
    ['another version', good.replace(/^v1/, 'v2')],
    ['upper-case hex signature', good.slice(0, -64) + sig.toUpperCase()],
    ['upper-case nonce', handMade(SECRET, '51', expires, NONCE.toUpperCase())],
    ['short nonce', handMade(SECRET, '51', expires, NONCE.slice(2))],
    ['leading zero in the borrowernumber', handMade(SECRET, '051', expires, NONCE)],
    ['zero borrowernumber', handMade(SECRET, '0', expires, NONCE)],
    ['negative borrowernumber', handMade(SECRET, '-5', expires, NONCE)],
    ["borrowernumber beyond Koha's int(11)", handMade(SECRET, '12345678901', expires, NONCE)],
    ['fractional expiry', handMade(SECRET, '51', `${expires}.5`, NONCE)],
    [
      'a part missing',
      good
        .split('.')
        .filter((_, i) => i !== 3)
        .join('.'),
    ],
    ['a part too many', `${good}.00`],
    ['white space around it', ` ${good}`],
    ['a line break at the end', `${good}\n`],
    ['very long', good + 'a'.repeat(10_000)],
  ];
  for (const [what, token] of badShapes) {
    it(`refuses a badly formed token (${what}) as format`, () => {
      expect(verifyLaunchToken(SECRET, token as string, NOW)).to.deep.equal({ ok: false, reason: 'format' });
    });
  }

  it('refuses to sign with bad input, with a stable code', () => {
    const attempts: Array<() => unknown> = [
      () => signLaunchToken('', 1, NOW),
      () => signLaunchToken(SECRET, 0, NOW),
      () => signLaunchToken(SECRET, 1.5, NOW),
      () => signLaunchToken(SECRET, 1, Number.NaN),
      () => signLaunchToken(SECRET, 1, NOW, 'ABCDEF0123456789ABCDEF0123456789'),
      () => verifyLaunchToken('', good, NOW),
    ];
    for (const attempt of attempts) {
      expect(attempt).to.throw(LaunchTokenInputError).with.property('code', 'KMC_LAUNCH_TOKEN_INPUT');
    }
  });
});

describe('launch next path', () => {
  const kept = ['/', '/queue', '/patrons/51/messages', '/archive?from=2026-01-01#top', '/a:b'];
  for (const next of kept) {
    it(`keeps the path on the sidecar ${next}`, () => expect(safeNextPath(next)).to.equal(next));
  }
  const refused: unknown[] = [
    undefined,
    '',
    'queue',
    'https://evil.example/',
    '//evil.example/x',
    '/\\evil.example',
    'javascript:alert(1)',
    '/queue\r\nSet-Cookie: x=1',
    ['/queue'],
    '/' + 'a'.repeat(3000),
  ];
  for (const next of refused) {
    // JSON.stringify gives undefined for undefined, whatever its type says.
    it(`sends ${next === undefined ? 'undefined' : JSON.stringify(next).slice(0, 40)} to / instead`, () =>
      expect(safeNextPath(next)).to.equal('/'));
  }
});
