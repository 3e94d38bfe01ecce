/**
 * Koha's SMTP server settings turned into connection options as Koha's
 * mailer connects: ssl = TLS from the first byte, starttls = TLS required
 * after the greeting, disabled = plain and never upgraded; the user signs
 * in only when Koha keeps one; Koha's time-out is in seconds.
 */
import { expect } from 'chai';
import { kohaServerOptions } from '../../sidecar/channels/smtp';

const server = { name: 'Relay', host: 'smtp.example.org', port: 587, timeout: 30, user_name: null, password: null };

describe("Koha's SMTP servers as connection options", () => {
  it('ssl: TLS from the first byte', () => {
    const o = kohaServerOptions({ ...server, port: 465, ssl_mode: 'ssl' }, 3) as Record<string, unknown>;
    expect(o).to.include({ host: 'smtp.example.org', port: 465, secure: true, requireTLS: false, ignoreTLS: false, maxConnections: 3 });
  });

  it('starttls: TLS required after the greeting, with the user Koha keeps', () => {
    const o = kohaServerOptions({ ...server, ssl_mode: 'starttls', user_name: 'kmc', password: 'hemligt' }, 5) as Record<string, unknown>;
    expect(o).to.include({ secure: false, requireTLS: true, ignoreTLS: false, connectionTimeout: 30_000 });
    expect(o.auth).to.deep.equal({ user: 'kmc', pass: 'hemligt' });
  });

  it('disabled: plain, never upgraded, no sign-in without a user', () => {
    const o = kohaServerOptions({ ...server, port: 25, ssl_mode: 'disabled' }, 5) as Record<string, unknown>;
    expect(o).to.include({ secure: false, requireTLS: false, ignoreTLS: true });
    expect(o.auth).to.equal(undefined);
  });
});
