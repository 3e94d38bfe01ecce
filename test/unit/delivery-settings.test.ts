/**
 * Delivery and SMS settings, the backoff, and which SMS account a branch
 * uses: pure code, no database, no network.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../sidecar/config';
import { settingsRefusal } from '../support/settings';
import { backoffMs, DEFAULT_RETRY_POLICY } from '../../sidecar/delivery';
import { availabilityOf, routeFor, type SmsBranchAccount } from '../../sidecar/channels/sms';

const refusal = settingsRefusal;

describe('delivery and SMS settings', () => {
  it('have working defaults', () => {
    const s = loadSettings({});
    expect(s.sms).to.deep.equal({
      bindMode: 'transceiver',
      windowSize: 10,
      pduTimeoutMs: 10_000,
      enquireLinkMs: 30_000,
      tls: false,
      caFile: null,
      sender: null,
      receiptWaitMs: 30_000,
    });
    expect(s.delivery.retry).to.deep.equal(DEFAULT_RETRY_POLICY);
    expect(s.delivery.leaseMs).to.equal(300_000);
    expect(s.delivery.batchSize).to.equal(500);
  });

  it('read every setting', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-ca-'));
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const s = loadSettings({
      KMC_SMPP_BIND_MODE: 'transmitter+receiver',
      KMC_SMPP_WINDOW: '25',
      KMC_SMPP_PDU_TIMEOUT_MS: '5000',
      KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
      KMC_SMPP_TLS: 'on',
      KMC_SMPP_CA: ca,
      KMC_SMS_SENDER: 'KohaLib',
      KMC_SMS_RECEIPT_WAIT_SECONDS: '0',
      KMC_RETRY_EMAIL_ATTEMPTS: '5',
      KMC_RETRY_SMS_ATTEMPTS: '3',
      KMC_RETRY_PRINT_ATTEMPTS: '1',
      KMC_RETRY_FIRST_SECONDS: '30',
      KMC_RETRY_MAX_SECONDS: '3600',
      KMC_DELIVERY_LEASE_SECONDS: '120',
      KMC_DELIVERY_BATCH: '50',
    });
    expect(s.sms).to.deep.equal({
      bindMode: 'transmitter+receiver',
      windowSize: 25,
      pduTimeoutMs: 5000,
      enquireLinkMs: 0,
      tls: true,
      caFile: ca,
      sender: 'KohaLib',
      receiptWaitMs: 0,
    });
    expect(s.delivery).to.deep.equal({
      retry: { maxAttempts: { email: 5, sms: 3, print: 1 }, baseMs: 30_000, maxMs: 3_600_000, jitter: 0.25 },
      leaseMs: 120_000,
      batchSize: 50,
    });
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['KMC_SMPP_BIND_MODE', { KMC_SMPP_BIND_MODE: 'receiver' }, /must be transceiver, transmitter\+receiver or transmitter/],
    ['KMC_SMPP_WINDOW', { KMC_SMPP_WINDOW: '0' }, /whole number from 1 to 1000, got "0"/],
    ['KMC_SMPP_WINDOW', { KMC_SMPP_WINDOW: 'ten' }, /got "ten"/],
    ['KMC_SMPP_PDU_TIMEOUT_MS', { KMC_SMPP_PDU_TIMEOUT_MS: '10' }, /from 100 to 600000/],
    ['KMC_SMPP_TLS', { KMC_SMPP_TLS: 'maybe' }, /must be on or off/],
    ['KMC_SMPP_CA', { KMC_SMPP_CA: '/nonexistent/ca.pem' }, /does not exist/],
    ['KMC_SMS_SENDER', { KMC_SMS_SENDER: 'ThisNameIsTooLong' }, /1 to 11 plain ASCII characters/],
    ['KMC_SMS_SENDER', { KMC_SMS_SENDER: '12-34' }, /looks like a phone number/],
    ['KMC_SMS_RECEIPT_WAIT_SECONDS', { KMC_SMS_RECEIPT_WAIT_SECONDS: '-1' }, /whole number from 0 to 3600, got "-1"/],
    ['KMC_SMS_RECEIPT_WAIT_SECONDS', { KMC_SMS_RECEIPT_WAIT_SECONDS: '2h' }, /got "2h"/],
    ['KMC_RETRY_SMS_ATTEMPTS', { KMC_RETRY_SMS_ATTEMPTS: '0' }, /from 1 to 100/],
    ['KMC_RETRY_MAX_SECONDS', { KMC_RETRY_FIRST_SECONDS: '600', KMC_RETRY_MAX_SECONDS: '60' }, /must not be below KMC_RETRY_FIRST_SECONDS/],
    [
      'KMC_DELIVERY_LEASE_SECONDS',
      { KMC_DELIVERY_LEASE_SECONDS: '20', KMC_SMPP_PDU_TIMEOUT_MS: '10000' },
      /at least three times KMC_SMPP_PDU_TIMEOUT_MS/,
    ],
    ['KMC_DELIVERY_BATCH', { KMC_DELIVERY_BATCH: '-1' }, /whole number/],
  ];
  for (const [setting, env, message] of cases) {
    it(`refuses a bad ${setting} (${JSON.stringify(env)}) and names it`, () => {
      const err = refusal(env);
      expect(err.setting).to.equal(setting);
      expect(err.message).to.match(message);
      expect(err.code).to.equal('KMC_SETTINGS_INVALID');
    });
  }
});

describe('retry backoff', () => {
  const policy = { ...DEFAULT_RETRY_POLICY };

  it('doubles from the first wait up to the cap, spread by the jitter', () => {
    expect(backoffMs(1, policy, () => 0.5)).to.equal(60_000);
    expect(backoffMs(2, policy, () => 0.5)).to.equal(120_000);
    expect(backoffMs(4, policy, () => 0.5)).to.equal(480_000);
    expect(backoffMs(20, policy, () => 0.5)).to.equal(6 * 3600_000);
    expect(backoffMs(1, policy, () => 0)).to.equal(45_000);
    expect(backoffMs(1, policy, () => 1)).to.equal(75_000);
  });

  it('spreads a batch of retries over time', () => {
    const waits = new Set(Array.from({ length: 50 }, () => backoffMs(3, policy)));
    expect(waits.size).to.be.greaterThan(40);
    for (const w of waits) expect(w).to.be.within(180_000, 300_000);
  });
});

describe('which SMS account a branch uses', () => {
  const DEFAULT = 'smpp://kmc:secret@smsc.example.org:2775';
  const branches = new Map<string, SmsBranchAccount>([
    ['HAF', { branchcode: 'HAF', enabled: true, url: 'smpp://hafen:pw@sms.hafen.example:2775', sender: 'Hafen' }],
    ['OFF', { branchcode: 'OFF', enabled: false, url: 'smpp://off:pw@sms.example:2775', sender: null }],
    ['DEF', { branchcode: 'DEF', enabled: true, url: null, sender: '2222' }],
  ]);

  it('its own account, the default account, or none when switched off', () => {
    expect(routeFor(branches, 'HAF', DEFAULT, 'KohaLib')).to.deep.equal({
      ok: true,
      url: 'smpp://hafen:pw@sms.hafen.example:2775',
      account: 'hafen@sms.hafen.example:2775',
      sender: 'Hafen',
    });
    expect(routeFor(branches, 'DEF', DEFAULT, 'KohaLib')).to.deep.equal({
      ok: true,
      url: DEFAULT,
      account: 'kmc@smsc.example.org:2775',
      sender: '2222',
    });
    expect(routeFor(branches, 'CPL', DEFAULT, 'KohaLib')).to.deep.equal({
      ok: true,
      url: DEFAULT,
      account: 'kmc@smsc.example.org:2775',
      sender: 'KohaLib',
    });
    expect(routeFor(branches, null, DEFAULT)).to.include({ ok: true, url: DEFAULT });
    const off = routeFor(branches, 'OFF', DEFAULT);
    expect(off).to.deep.equal({ ok: false, reason: 'SMS is switched off for branch OFF (kmc_branch_settings.sms_enabled = 0)' });
  });

  it('without a default account only branches with their own can send', () => {
    const a = availabilityOf(branches, null);
    expect(a.canSend('HAF')).to.equal(true);
    expect(a.canSend('DEF')).to.equal(false);
    expect(a.whyNot('DEF')).to.equal('no SMS account for branch DEF and no default account (KMC_SMPP_URL)');
    expect(a.canSend('CPL')).to.equal(false);
    expect(a.canSend('OFF')).to.equal(false);
    expect(a.whyNot('HAF')).to.equal(null);
  });

  it('an account is named without its password', () => {
    const r = routeFor(branches, 'HAF', DEFAULT);
    expect(JSON.stringify(r.ok && r.account)).not.to.contain('pw');
  });
});
