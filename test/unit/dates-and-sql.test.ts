import { expect } from 'chai';
import { addDays, daysBetween, formatKohaDate, libraryDay } from '../../sidecar/rendering/dates';
import { splitStatements, ownTables } from '../../sidecar/db/migrations';
import { languageCandidates, htmlFromText } from '../../sidecar/rendering/notices';
import { backoffMs, DEFAULT_RETRY_POLICY } from '../../sidecar/delivery';
import { classifySmtpError } from '../../sidecar/channels/smtp';

describe('dates as the library shows them', () => {
  it('follows Koha dateformat', () => {
    expect(formatKohaDate('2026-11-05 23:59:00', 'us')).to.equal('11/05/2026');
    expect(formatKohaDate('2026-11-05 23:59:00', 'metric')).to.equal('05/11/2026');
    expect(formatKohaDate('2026-11-05', 'iso')).to.equal('2026-11-05');
    expect(formatKohaDate('2026-11-05', 'dmydot')).to.equal('05.11.2026');
  });
  it('counts library days in the library time zone', () => {
    expect(libraryDay(new Date('2026-11-24T23:30:00Z'), 'Europe/Stockholm')).to.equal('2026-11-25');
    expect(libraryDay(new Date('2026-11-24T23:30:00Z'), 'America/New_York')).to.equal('2026-11-24');
    expect(addDays('2026-03-28', 2)).to.equal('2026-03-30');
    expect(daysBetween('2026-11-17', '2026-11-24')).to.equal(7);
  });
});

describe('migrations', () => {
  it('splits statements at line-ending semicolons and drops comment lines', () => {
    expect(splitStatements('-- a; comment;\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\n')).to.deep.equal([
      'CREATE TABLE a (x INT)',
      'INSERT INTO a VALUES (1)',
    ]);
  });
  it('knows every own table, all prefixed kmc_', () => {
    const tables = ownTables();
    expect(tables).to.include.members(['kmc_messages', 'kmc_message_items', 'kmc_rules', 'kmc_runs', 'kmc_schema_migrations']);
    expect(tables.every((t) => t.startsWith('kmc_'))).to.equal(true);
  });
});

describe('templates by language', () => {
  it('tries the patron language, its primary tag, the branch default, then English', () => {
    expect(languageCandidates('sv-SE', 'da')).to.deep.equal(['sv-SE', 'sv', 'da', 'en']);
    expect(languageCandidates('default', null)).to.deep.equal(['en']);
  });
  it('makes an escaped HTML part from plain text', () => {
    expect(htmlFromText('Hej <b>Åsa</b>\nrad två\n\nNytt stycke')).to.equal(
      '<p>Hej &lt;b&gt;Åsa&lt;/b&gt;<br>\nrad två</p>\n<p>Nytt stycke</p>',
    );
  });
});

describe('delivery outcomes', () => {
  it('waits longer after each attempt, spread by jitter, within the cap', () => {
    const fixed = () => 0.5; // no spread
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, fixed)).to.equal(60_000);
    expect(backoffMs(3, DEFAULT_RETRY_POLICY, fixed)).to.equal(240_000);
    expect(backoffMs(30, DEFAULT_RETRY_POLICY, fixed)).to.equal(DEFAULT_RETRY_POLICY.maxMs);
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, () => 0)).to.equal(45_000);
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, () => 0.999999)).to.be.closeTo(75_000, 1);
  });
  it('reads SMTP replies as transient or permanent', () => {
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 451, response: '451 4.3.0 busy' }))).to.deep.equal({
      kind: 'retry',
      code: 'SMTP_451',
      reason: '451 4.3.0 busy',
    });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 550, response: '550 5.1.1 no such user' }))).to.include({
      kind: 'failed',
      code: 'SMTP_550',
    });
    expect(classifySmtpError(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }))).to.include({
      kind: 'retry',
      code: 'SMTP_ECONNECTION',
    });
    expect(classifySmtpError(Object.assign(new Error('No recipients'), { code: 'EENVELOPE' }))).to.include({ kind: 'failed' });
  });
});
