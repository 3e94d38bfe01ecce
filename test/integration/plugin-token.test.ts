/**
 * The launch token across the two languages: the Koha plugin's Perl
 * (LaunchToken.pm, run with the machine's perl and core modules only) makes
 * it, the sidecar's verify function judges it. The hop through the sidecar's
 * /launch route is in plugin-launch.test.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { safeNextPath, signLaunchToken, verifyLaunchToken } from '../../sidecar/web/auth/launch-token';

const PLUGIN_LIB = path.resolve(__dirname, '../../plugin-manifest/koha-plugin');
const SECRET = 'bibliotekets delade hemlighet ✓ åäö';
const NONCE = '00112233445566778899aabbccddeeff';

interface PerlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a line of Perl with LaunchToken.pm loaded and nothing but core modules. */
function perl(code: string, env: Record<string, string> = {}): PerlResult {
  const r = spawnSync(
    'perl',
    [
      '-I',
      PLUGIN_LIB,
      '-MKoha::Plugin::Org::KohaMessageCenter::LaunchToken=make_launch_token,random_nonce,launch_url,safe_next',
      '-MJSON::PP',
      '-e',
      code,
    ],
    { encoding: 'utf8', env: { ...process.env, KMC_T_SECRET: SECRET, ...env }, timeout: 20_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A token made by the plugin's Perl for `now` (seconds), with its random nonce unless one is given. */
function perlToken(borrowernumber: number | string, now: number, nonce?: string): string {
  const args = [String(borrowernumber), String(now), ...(nonce ? [nonce] : [])].map((a) => `'${a}'`).join(', ');
  const r = perl(`print make_launch_token($ENV{KMC_T_SECRET}, ${args})`);
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('launch token: made by the Koha plugin (Perl), checked by the sidecar', function () {
  this.timeout(30_000);

  it('the machine has perl with the core modules the plugin needs', () => {
    const r = perl('print join(",", $Digest::SHA::VERSION ? "sha" : "", $JSON::PP::VERSION ? "json" : "")');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('sha,json');
  });

  it('accepts a token the plugin made just now, for the staff member it names', () => {
    const now = nowSeconds();
    const token = perlToken(51, now);
    expect(token).to.match(/^v1\.51\.\d+\.[0-9a-f]{32}\.[0-9a-f]{64}$/);
    const check = verifyLaunchToken(SECRET, token, now);
    expect(check).to.include({ ok: true, borrowernumber: 51, expires: now + 120 });
  });

  it('signs exactly as the sidecar does, byte for byte (UTF-8 secret included)', () => {
    expect(perlToken(51, 1_795_000_000, NONCE)).to.equal(signLaunchToken(SECRET, 51, 1_795_000_000, NONCE));
    expect(perlToken(2147483647, 1_795_000_000, NONCE)).to.equal(signLaunchToken(SECRET, 2147483647, 1_795_000_000, NONCE));
  });

  it('uses the time of the machine when none is given, and a fresh nonce each time', () => {
    const before = nowSeconds();
    const r = perl(
      'print make_launch_token($ENV{KMC_T_SECRET}, 7), "\\n", make_launch_token($ENV{KMC_T_SECRET}, 7), "\\n", random_nonce()',
    );
    expect(r.status, r.stderr).to.equal(0);
    const [a, b, nonce] = r.stdout.split('\n');
    const ca = verifyLaunchToken(SECRET, a, before);
    const cb = verifyLaunchToken(SECRET, b, before);
    expect(ca.ok && cb.ok).to.equal(true);
    if (ca.ok && cb.ok) {
      expect(ca.expires - before).to.be.within(119, 122);
      expect(ca.nonce).not.to.equal(cb.nonce);
    }
    expect(nonce).to.match(/^[0-9a-f]{32}$/);
  });

  it("refuses the plugin's token with any one byte changed", () => {
    const now = nowSeconds();
    const token = perlToken(51, now);
    for (let i = 0; i < token.length; i++) {
      const replacement = token[i] === '0' ? '1' : '0';
      const changed = token.slice(0, i) + replacement + token.slice(i + 1);
      const check = verifyLaunchToken(SECRET, changed, now);
      expect(check.ok, `byte ${i}`).to.equal(false);
    }
    expect(verifyLaunchToken(SECRET, token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'), now)).to.deep.equal({
      ok: false,
      reason: 'signature',
    });
  });

  it("refuses the plugin's token made at an old date, and one from a clock far ahead", () => {
    const now = nowSeconds();
    expect(verifyLaunchToken(SECRET, perlToken(51, now - 121), now)).to.deep.equal({ ok: false, reason: 'expired' });
    expect(verifyLaunchToken(SECRET, perlToken(51, now - 86_400), now)).to.deep.equal({ ok: false, reason: 'expired' });
    expect(verifyLaunchToken(SECRET, perlToken(51, now + 600), now)).to.deep.equal({ ok: false, reason: 'too_far_ahead' });
  });

  it('refuses a token the plugin signed with another secret', () => {
    const r = perl(`print make_launch_token('another secret of the same kind', 51)`);
    expect(verifyLaunchToken(SECRET, r.stdout, nowSeconds())).to.deep.equal({ ok: false, reason: 'signature' });
  });

  it('stops with a clear message rather than sign bad input', () => {
    const cases: Array<[string, RegExp]> = [
      [`make_launch_token('', 51)`, /the shared secret is not set/],
      [`make_launch_token($ENV{KMC_T_SECRET}, 0)`, /needs the staff member's borrowernumber/],
      [`make_launch_token($ENV{KMC_T_SECRET}, '51 ')`, /needs the staff member's borrowernumber/],
      [`make_launch_token($ENV{KMC_T_SECRET}, 51, time, 'ABC')`, /32 lowercase hex/],
    ];
    for (const [call, why] of cases) {
      const r = perl(`print ${call}`);
      expect(r.status, call).not.to.equal(0);
      expect(r.stderr, call).to.match(why);
      expect(r.stdout, call).to.equal('');
    }
  });

  it('builds the launch link as the sidecar reads it, and keeps next on the sidecar as the sidecar does', () => {
    const r = perl(`print launch_url('https://kmc.example.org/', 'v1.1.2.x.y', '/patrons/42/messages?x=1&y=2', '/launch', 'sv-SE')`);
    const url = new URL(r.stdout);
    expect(`${url.origin}${url.pathname}`).to.equal('https://kmc.example.org/launch');
    expect([...url.searchParams.entries()]).to.deep.equal([
      ['token', 'v1.1.2.x.y'],
      ['next', '/patrons/42/messages?x=1&y=2'],
      ['lang', 'sv-SE'],
    ]);

    const inputs = [
      '/',
      '/queue',
      '/patrons/5/messages',
      '',
      'queue',
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/a\nb',
      '/ok?x=//y',
      'javascript:alert(1)',
    ];
    const out = perl('print JSON::PP->new->encode([ map { safe_next($_) } @{ JSON::PP->new->decode($ENV{KMC_T_INPUTS}) } ])', {
      KMC_T_INPUTS: JSON.stringify(inputs),
    });
    expect(out.status, out.stderr).to.equal(0);
    expect(JSON.parse(out.stdout)).to.deep.equal(inputs.map((i) => safeNextPath(i)));
  });
});
