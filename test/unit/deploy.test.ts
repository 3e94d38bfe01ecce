/**
 * The files in deploy/ as an admin installs them: systemd accepts the unit,
 * the unit keeps its hardening, and the example settings are real settings.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const UNIT = 'koha-message-center.service';
/** Where the unit expects the built checkout. */
const INSTALL_PATH = '/opt/koha-message-center';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

function unitText(): string {
  return readFileSync(path.join(DEPLOY, UNIT), 'utf8');
}

/** Runs `systemd-analyze verify` on the unit with the install path replaced. */
function verify(installPath: string): { status: number | null; output: string } {
  if (!existsSync(SYSTEMD_ANALYZE)) {
    throw new Error(
      `${SYSTEMD_ANALYZE} is missing, so the service unit cannot be checked: install Debian's systemd package (bash scripts/ensure-systemd-analyze.sh)`,
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-unit-'));
  try {
    writeFileSync(path.join(dir, UNIT), unitText().split(INSTALL_PATH).join(installPath));
    const r = spawnSync(SYSTEMD_ANALYZE, ['verify', path.join(dir, UNIT)], { encoding: 'utf8', timeout: 8_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/: the systemd unit, the settings file and the Apache example', () => {
  it('systemd-analyze verify accepts the unit, with this checkout in place of /opt/koha-message-center', () => {
    expect(verify(ROOT)).to.deep.equal({ status: 0, output: '' });
  });

  it('systemd-analyze verify refuses it when the command it starts is not there', () => {
    const missing = path.join(os.tmpdir(), `kmc-not-installed-${process.pid}`);
    const r = verify(missing);
    expect(r.status).to.not.equal(0);
    expect(r.output).to.contain(`${missing}/bin/kmc is not executable`);
  });

  it('runs kmc serve as its own user, restarts on failure, reads the settings file and is hardened', () => {
    const lines = new Set(
      unitText()
        .split('\n')
        .map((l) => l.trim()),
    );
    for (const line of [
      `ExecStart=${INSTALL_PATH}/bin/kmc serve`,
      'User=kmc',
      'Restart=on-failure',
      'EnvironmentFile=/etc/koha-message-center/kmc.env',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ReadWritePaths=/var/spool/koha-message-center',
    ]) {
      expect(lines.has(line), line).to.be.true;
    }
  });

  it('the example settings name only real settings, and the print folder the unit may write to', () => {
    const example = readFileSync(path.join(DEPLOY, 'kmc.env.example'), 'utf8');
    const names = [...example.matchAll(/^#?(KMC_[A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(names).to.include.members(['KMC_DATABASE_URL', 'KMC_SECRET', 'KMC_PUBLIC_URL', 'KMC_TRUST_PROXY', 'KMC_PRINT_DIR']);
    const configSource = readdirSync(path.join(ROOT, 'sidecar', 'config'))
      .map((f) => readFileSync(path.join(ROOT, 'sidecar', 'config', f), 'utf8'))
      .join('\n');
    for (const name of names) expect(configSource, `${name} is read by sidecar/config`).to.contain(`'${name}'`);
    expect(example).to.match(/^KMC_PRINT_DIR=\/var\/spool\/koha-message-center$/m);
    expect(example).to.match(/^KMC_HOST=127\.0\.0\.1$/m);
  });

  it('the Apache example proxies to the loopback port of the example settings, over TLS, saying the scheme', () => {
    const apache = readFileSync(path.join(DEPLOY, 'apache-koha-message-center.conf'), 'utf8');
    expect(apache).to.match(/^\s*ProxyPass\s+\/ http:\/\/127\.0\.0\.1:8480\//m);
    expect(apache).to.match(/^\s*SSLEngine on$/m);
    expect(apache).to.match(/^\s*RequestHeader set X-Forwarded-Proto "https"$/m);
  });
});
