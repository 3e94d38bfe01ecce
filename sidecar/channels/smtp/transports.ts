/**
 * Which SMTP server a branch's e-mail goes through. Koha may name its own
 * servers (Administration › SMTP servers): the one linked to the branch,
 * else the one marked default. The sidecar's own branch settings may name
 * another server for a branch (an `smtp://` or `smtps://` URL), which wins.
 * When neither names one, the adapter's own server (KMC_SMTP_URL) is used.
 *
 * One pooled connection set per server, opened on first use and kept; the
 * lists are read again after `refreshMs`, and a server no longer named has
 * its pool closed.
 */
import type { Transporter, TransportOptions } from 'nodemailer';
import type { KohaSmtpServer } from '../../host';

/**
 * A pooled transport, for the adapter's own server and for each of Koha's. nodemailer is loaded here, when the first
 * one is made: commands that send no e-mail never load it.
 */
export function openPool(options: TransportOptions): Transporter {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
  return (require('nodemailer') as typeof import('nodemailer')).createTransport(options);
}

/** One of Koha's SMTP servers, as the host reader gives it (timeout in seconds). */
export type SmtpServerSettings = Omit<KohaSmtpServer, 'id'>;

/** Where Koha's servers come from (the composition root passes the host reader). */
export interface SmtpServerSource {
  smtpServers(): Promise<{ byBranch: Map<string, SmtpServerSettings>; defaultServer: SmtpServerSettings | null }>;
}

/** The sidecar's own per-branch choice of server, when it has one (branchcode → smtp URL). */
export interface BranchSmtpSource {
  branchSmtpUrls(): Promise<Map<string, string>>;
}

export interface SmtpTransportsOptions {
  koha: SmtpServerSource;
  branches?: BranchSmtpSource | null;
  /** How long what was read is trusted; default one minute. */
  refreshMs?: number;
  maxConnections?: number;
  now?: () => number;
}

/** A server a branch's e-mail goes through: a pool, and where its settings came from. */
export interface SmtpRoute {
  transport: Transporter;
  /** `koha:<server name>` or `branch:<branchcode>`, for logs. */
  source: string;
}

interface Chosen {
  key: string;
  source: string;
  options: TransportOptions;
}

/** nodemailer options for one of Koha's servers, as Koha's mailer would connect. */
export function kohaServerOptions(s: SmtpServerSettings, maxConnections: number): TransportOptions {
  const timeout = Math.max(1, s.timeout || 120) * 1000;
  return {
    pool: true,
    host: s.host,
    port: s.port,
    // ssl: TLS from the first byte; starttls: TLS required after EHLO; disabled: plain, never upgraded.
    secure: s.ssl_mode === 'ssl',
    requireTLS: s.ssl_mode === 'starttls',
    ignoreTLS: s.ssl_mode === 'disabled',
    auth: s.user_name ? { user: s.user_name, pass: s.password ?? '' } : undefined,
    maxConnections,
    maxMessages: 500,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  } as TransportOptions;
}

/** nodemailer options for an smtp:// or smtps:// URL from the sidecar's branch settings. */
export function urlServerOptions(raw: string, maxConnections: number): TransportOptions {
  const url = new URL(raw);
  return {
    pool: true,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    maxConnections,
    maxMessages: 500,
    ignoreTLS: url.searchParams.get('tls') === 'off',
    tls: { rejectUnauthorized: url.searchParams.get('tls') !== 'insecure' },
  } as TransportOptions;
}

export class SmtpTransports {
  private routes: { byBranch: Map<string, Chosen>; fallback: Chosen | null } | null = null;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;
  private pools = new Map<string, Transporter>();

  constructor(private readonly opts: SmtpTransportsOptions) {}

  /** The server for a branch's e-mail, or null when nothing names one (the adapter's own server then). */
  async routeFor(branchcode: string | null): Promise<SmtpRoute | null> {
    await this.fresh();
    const routes = this.routes;
    const chosen = (branchcode ? routes?.byBranch.get(branchcode) : undefined) ?? routes?.fallback ?? null;
    if (!chosen) return null;
    let transport = this.pools.get(chosen.key);
    if (!transport) this.pools.set(chosen.key, (transport = openPool(chosen.options)));
    return { transport, source: chosen.source };
  }

  /** Closes every pool; the next send opens what it needs again. */
  close(): void {
    for (const t of this.pools.values()) t.close();
    this.pools.clear();
    this.routes = null;
  }

  private async fresh(): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    if (this.routes && now - this.loadedAt < (this.opts.refreshMs ?? 60_000)) return;
    this.loading ??= this.load().finally(() => (this.loading = null));
    await this.loading;
  }

  private async load(): Promise<void> {
    const max = this.opts.maxConnections ?? 5;
    const [koha, own] = await Promise.all([
      this.opts.koha.smtpServers(),
      this.opts.branches?.branchSmtpUrls() ?? Promise.resolve(new Map<string, string>()),
    ]);
    const fromKoha = (s: SmtpServerSettings): Chosen => ({
      key: JSON.stringify(['koha', s.host, s.port, s.ssl_mode, s.user_name, s.password, s.timeout]),
      source: `koha:${s.name}`,
      options: kohaServerOptions(s, max),
    });
    const byBranch = new Map<string, Chosen>();
    for (const [branchcode, server] of koha.byBranch) byBranch.set(branchcode, fromKoha(server));
    for (const [branchcode, url] of own)
      byBranch.set(branchcode, { key: JSON.stringify(['url', url]), source: `branch:${branchcode}`, options: urlServerOptions(url, max) });
    const fallback = koha.defaultServer ? fromKoha(koha.defaultServer) : null;
    this.routes = { byBranch, fallback };
    this.loadedAt = (this.opts.now ?? Date.now)();
    // A server nobody names any more has its connections closed.
    const used = new Set([...byBranch.values(), ...(fallback ? [fallback] : [])].map((c) => c.key));
    for (const [key, t] of this.pools) {
      if (used.has(key)) continue;
      t.close();
      this.pools.delete(key);
    }
  }
}
