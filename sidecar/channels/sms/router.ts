/**
 * The SMS channel as the worker sees it: one adapter that sends each message
 * through its branch's SMS account, or the library's default account
 * (KMC_SMPP_URL). One SMPP client per account, bound on first use and kept.
 *
 * Which account a branch uses (kmc_branch_settings):
 * - a row with sms_enabled = 0: SMS is switched off for that branch;
 * - a row with sms_enabled = 1: its own sms_url, else the default account;
 * - no row: the default account.
 * With neither an account of its own nor a default, SMS is not set up for the
 * branch. The sender is the branch's sms_sender, else KMC_SMS_SENDER, else
 * the message's own sender when it is a valid SMS sender, else the account's
 * default (the SMSC fills it in).
 */
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';
import { SmppAdapter, type SmppAdapterOptions } from '../smpp/adapter';
import { parseSmppUrl, type SmppLogger } from '../smpp/client';
import { SmppError } from '../smpp/errors';
import type { DeliveryReceipt } from '../smpp/receipts';
import type { Knex } from 'knex';
import { KmcError, messageOfError } from '../../errors';
import { readSmsSender } from '../../kernel';

export interface SmsBranchAccount {
  branchcode: string;
  enabled: boolean;
  url: string | null;
  sender: string | null;
}

/** Where the branches' SMS settings come from (the composition root passes kmc_branch_settings). */
export interface SmsAccountSource {
  branchAccounts(): Promise<SmsBranchAccount[]>;
}

/** A delivery receipt with the account it came in on. */
export interface AccountReceipt extends DeliveryReceipt {
  account: string;
}

/** What the notice generators ask before choosing SMS for a patron of a branch. */
export interface SmsAvailability {
  canSend(branchcode: string | null): boolean;
  /** Why not, in words staff can act on; null when SMS can be sent. */
  whyNot(branchcode: string | null): string | null;
}

export type SmsRoute = { ok: true; url: string; account: string; sender: string | null } | { ok: false; reason: string };

/** The adapter settings every account shares (bind mode, window, time-outs, TLS). */
export type SmsClientOptions = Omit<SmppAdapterOptions, 'onReceipt' | 'defaultFrom' | 'logger'>;

/** Any logger with these methods (ours fits). */
export interface SmsLogger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
}

export interface SmsRouterOptions {
  /** The library's default account (KMC_SMPP_URL); null when only branches have accounts. */
  defaultUrl: string | null;
  /** KMC_SMS_SENDER: the sender when the branch names none. */
  defaultSender?: string | null;
  client?: SmsClientOptions;
  accounts: SmsAccountSource;
  onReceipt?: (receipt: AccountReceipt) => void | Promise<void>;
  logger?: SmsLogger;
  /** How long branch settings are kept before they are read again (default 30 000 ms). */
  refreshMs?: number;
}

const labels = new Map<string, string>();

/** system_id@host:port: names an SMS account without its password. */
export function accountLabel(url: string): string {
  let label = labels.get(url);
  if (label === undefined) {
    const e = parseSmppUrl(url);
    label = `${e.systemId}@${e.host}:${e.port}`.slice(0, 64);
    if (labels.size > 1000) labels.clear();
    labels.set(url, label);
  }
  return label;
}

interface Account {
  url: string;
  label: string;
  adapter: SmppAdapter;
  started: boolean;
  /** The bind under way; resolves to whether it bound. */
  starting: Promise<boolean> | null;
  retryAt: number;
  failures: number;
  lastError: KmcError | null;
}

interface Routes {
  branches: Map<string, SmsBranchAccount>;
  loadedAt: number;
}

const START_BACKOFF_MIN_MS = 1_000;
const START_BACKOFF_MAX_MS = 60_000;

export class SmsRouter implements ChannelAdapter {
  readonly channel = 'sms' as const;
  private readonly accounts = new Map<string, Account>();
  private routes: Routes | null = null;
  private loading: Promise<Routes> | null = null;
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private readonly inFlight = new Set<Promise<SendOutcome>>();
  private readonly refreshMs: number;
  private readonly defaultSender: string | null;

  constructor(private readonly opts: SmsRouterOptions) {
    this.refreshMs = opts.refreshMs ?? 30_000;
    this.defaultSender = opts.defaultSender?.trim() || null;
    if (opts.defaultUrl) parseSmppUrl(opts.defaultUrl);
  }

  /** The window of each account in use: the worker keeps every bound account's window full. */
  get maxInFlight(): number {
    const window = this.opts.client?.windowSize ?? 10;
    return window * Math.max(1, this.accounts.size);
  }

  /** The SMPP adapter of an account, once it has been used (for stats and tests). */
  adapterFor(url: string): SmppAdapter | null {
    return this.accounts.get(url)?.adapter ?? null;
  }

  /**
   * Reads the branches' settings and binds the default account. Refused
   * credentials or a certificate that fails the check stop the start (the
   * settings are wrong); an SMSC that cannot be reached right now does not:
   * sends wait for it and the bind is tried again.
   */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    this.state = 'started';
    await this.loadRoutes(true).catch((err: unknown) => {
      this.opts.logger?.warn('sms.branch_settings_unreadable', { error: messageOfError(err) });
    });
    if (!this.opts.defaultUrl) return;
    const account = this.account(this.opts.defaultUrl);
    await this.ensureStarted(account);
    const err = account.lastError;
    if (!account.started && err instanceof SmppError && err.permanent) {
      this.state = 'new';
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.allSettled([...this.inFlight]);
    // A bind still under way would leave a session open behind us: let it finish first.
    await Promise.allSettled([...this.accounts.values()].flatMap((a) => (a.starting ? [a.starting] : [])));
    await Promise.all([...this.accounts.values()].map((a) => a.adapter.stop()));
    this.state = 'stopped';
  }

  send(message: OutgoingMessage): Promise<SendOutcome> {
    if (this.state !== 'started') {
      const code = this.state === 'new' ? 'SMS_NOT_STARTED' : 'SMS_STOPPED';
      return Promise.resolve({
        kind: 'retry',
        code,
        reason: this.state === 'new' ? 'the SMS channel has not been started' : 'the SMS channel is stopping',
      });
    }
    // The promise handed back is the one stop() waits for, so a caller sees its outcome first.
    const job: Promise<SendOutcome> = this.route(message.branchcode ?? null)
      .then(
        (route) => this.sendRouted(message, route),
        (err: unknown): SendOutcome => ({
          kind: 'retry',
          code: 'SMS_SETTINGS_UNAVAILABLE',
          reason: `the branches' SMS settings could not be read: ${messageOfError(err)}`,
        }),
      )
      .finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    return job;
  }

  private async sendRouted(message: OutgoingMessage, route: SmsRoute): Promise<SendOutcome> {
    if (!route.ok) return { kind: 'failed', code: 'SMS_NOT_SET_UP', reason: route.reason };
    let account: Account;
    try {
      account = this.account(route.url);
    } catch (err) {
      const where = message.branchcode ? `the SMS account of branch ${message.branchcode} (kmc_branch_settings.sms_url)` : 'KMC_SMPP_URL';
      return { kind: 'failed', code: 'SMS_ACCOUNT_INVALID', reason: `${where} is not usable: ${messageOfError(err)}` };
    }
    const notReady = await this.ensureStarted(account);
    if (notReady) return notReady;
    const outcome = await account.adapter.send({ ...message, from: this.senderFor(route.sender, message.from) });
    return outcome.kind === 'accepted' ? { ...outcome, account: account.label } : outcome;
  }

  private senderFor(branchSender: string | null, messageFrom: string): string {
    if (branchSender) return branchSender;
    if (this.defaultSender) return this.defaultSender;
    // The generators give a branch name as sender; it is used only when it is a valid SMS sender.
    const reading = readSmsSender(messageFrom);
    return reading.ok && reading.sender.addr ? messageFrom : '';
  }

  /** The account that carries a branch's SMS, as last read (the SMS-per-second limit is kept per account). */
  paceAccount(branchcode: string | null): string | null {
    if (!this.routes) return this.opts.defaultUrl ? accountLabel(this.opts.defaultUrl) : null;
    const route = routeFor(this.routes.branches, branchcode, this.opts.defaultUrl, this.defaultSender);
    return route.ok ? route.account : null;
  }

  /** Which account, if any, carries SMS for a branch, by the rules at the top of this file. */
  async route(branchcode: string | null): Promise<SmsRoute> {
    const routes = await this.loadRoutes(false);
    return routeFor(routes.branches, branchcode, this.opts.defaultUrl, this.defaultSender);
  }

  /** For the notice generators: which branches can send SMS now (read once per run). */
  async availability(): Promise<SmsAvailability> {
    const routes = await this.loadRoutes(true);
    return availabilityOf(routes.branches, this.opts.defaultUrl);
  }

  private loadRoutes(fresh: boolean): Promise<Routes> {
    const current = this.routes;
    if (current && !fresh && Date.now() - current.loadedAt < this.refreshMs) return Promise.resolve(current);
    this.loading ??= this.opts.accounts
      .branchAccounts()
      .then(
        (rows) => {
          this.routes = { branches: new Map(rows.map((r) => [r.branchcode, r])), loadedAt: Date.now() };
          return this.routes;
        },
        (err: unknown) => {
          // Stale settings beat no SMS at all while the database is away for a moment.
          if (current) {
            this.opts.logger?.warn('sms.branch_settings_stale', { error: messageOfError(err) });
            return current;
          }
          throw err;
        },
      )
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  private account(url: string): Account {
    const known = this.accounts.get(url);
    if (known) return known;
    const label = accountLabel(url);
    const adapter = new SmppAdapter(url, {
      ...this.opts.client,
      logger: this.clientLogger(label),
      onReceipt: (r) => this.opts.onReceipt?.({ ...r, account: label }),
    });
    const account: Account = { url, label, adapter, started: false, starting: null, retryAt: 0, failures: 0, lastError: null };
    this.accounts.set(url, account);
    return account;
  }

  /** Binds an account on first use; after a failed bind, waits with backoff before the next try. */
  private async ensureStarted(account: Account): Promise<SendOutcome | null> {
    if (account.started) return null;
    if (!account.starting && Date.now() >= account.retryAt) {
      account.starting = account.adapter
        .start()
        .then(
          () => {
            account.started = true;
            account.failures = 0;
            account.lastError = null;
            this.opts.logger?.info('sms.account_bound', { account: account.label });
            return true;
          },
          (err: unknown) => {
            account.failures += 1;
            account.lastError = err instanceof KmcError ? err : new KmcError('SMPP_CONNECT_FAILED', messageOfError(err));
            const wait = Math.min(START_BACKOFF_MAX_MS, START_BACKOFF_MIN_MS * 2 ** Math.min(account.failures - 1, 16));
            account.retryAt = Date.now() + wait;
            this.opts.logger?.warn('sms.account_bind_failed', {
              account: account.label,
              code: account.lastError.code,
              error: account.lastError.message,
              retryInMs: wait,
            });
            return false;
          },
        )
        .finally(() => {
          account.starting = null;
        });
    }
    const bound = account.starting ? await account.starting : false;
    if (bound) return null;
    const err = account.lastError;
    return {
      kind: 'retry',
      code: err?.code ?? 'SMPP_NOT_CONNECTED',
      reason: `SMS account ${account.label} is not bound${err ? `: ${err.message}` : ''}`,
      retryAfterMs: Math.max(0, account.retryAt - Date.now()),
    };
  }

  private clientLogger(account: string): SmppLogger {
    const log = this.opts.logger;
    const at =
      (level: 'debug' | 'info' | 'warn' | 'error') =>
      (message: string, meta: Record<string, unknown> = {}) => {
        if (!log) return;
        // Phone numbers stay out of info-level lines.
        const contact = 'from' in meta || 'to' in meta;
        log[contact && level === 'info' ? 'debug' : level]('smpp.client', { account, message, ...meta });
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }
}

export function routeFor(
  branches: Map<string, SmsBranchAccount>,
  branchcode: string | null,
  defaultUrl: string | null,
  defaultSender: string | null = null,
): SmsRoute {
  const row = branchcode ? branches.get(branchcode) : undefined;
  if (row && !row.enabled)
    return { ok: false, reason: `SMS is switched off for branch ${branchcode} (kmc_branch_settings.sms_enabled = 0)` };
  const url = row?.url?.trim() || defaultUrl;
  if (!url) {
    return {
      ok: false,
      reason: `no SMS account for ${branchcode ? `branch ${branchcode}` : 'messages without a branch'} and no default account (KMC_SMPP_URL)`,
    };
  }
  let account: string;
  try {
    account = accountLabel(url);
  } catch {
    account = '(invalid account)';
  }
  return { ok: true, url, account, sender: row?.sender?.trim() || defaultSender };
}

export function availabilityOf(branches: Map<string, SmsBranchAccount>, defaultUrl: string | null): SmsAvailability {
  const whyNot = (branchcode: string | null): string | null => {
    const r = routeFor(branches, branchcode, defaultUrl);
    return r.ok ? null : r.reason;
  };
  return { canSend: (b) => whyNot(b) === null, whyNot };
}

/** The branches' SMS settings from the sidecar's own table. */
export function branchSettingsSource(knex: Knex): SmsAccountSource {
  return {
    async branchAccounts() {
      const rows: Array<Record<string, unknown>> = await knex('kmc_branch_settings').select(
        'branchcode',
        'sms_enabled',
        'sms_url',
        'sms_sender',
      );
      return rows.map((r) => ({
        branchcode: String(r.branchcode),
        enabled: Number(r.sms_enabled) === 1,
        url: (r.sms_url as string | null) || null,
        sender: (r.sms_sender as string | null) || null,
      }));
    },
  };
}
