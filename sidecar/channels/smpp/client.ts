/**
 * A typed SMPP client (ESME side) over the `smpp` package: binds, keeps the
 * bind alive with enquire_link, reconnects with jittered exponential backoff,
 * keeps a window of submit_sm in flight with a per-PDU time-out, and slows
 * down when the SMSC throttles.
 */
import * as fs from 'fs';
import { SettingsError, codeOfError, messageOfError } from '../../errors';
import { SmppError } from './errors';
import {
  smppPackage,
  type smpp,
  type Pdu,
  Status,
  describeStatus,
  num,
  str,
  optionalNum,
  optionalBuf,
  rawShortMessage,
  rawMessagePayload,
} from './protocol';

export type BindMode = 'transceiver' | 'transmitter' | 'transmitter+receiver';
type Role = 'transceiver' | 'transmitter' | 'receiver';

/** Any logger with these methods (winston's fits). */
export interface SmppLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

const silentLogger: SmppLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface SmppClientOptions {
  /** One transceiver session (default), a transmitter only, or a transmitter plus a receiver. */
  bindMode?: BindMode;
  /** submit_sm allowed in flight at once (default 10). */
  windowSize?: number;
  /** How long to wait for any response PDU (default 10 000 ms). */
  pduTimeoutMs?: number;
  /** Keep-alive interval while bound; 0 turns it off (default 30 000 ms). */
  enquireLinkMs?: number;
  /** Backoff between reconnect attempts (default 1 000 to 60 000 ms). */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Pause after ESME_RTHROTTLED, doubling while it repeats (default 1 000 to 30 000 ms). */
  throttle?: { minMs?: number; maxMs?: number };
  /** How long a submit may wait for a free window slot or a bind (default pduTimeoutMs). */
  queueTimeoutMs?: number;
  /** Time allowed to open the connection and bind (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Use TLS even with an smpp:// URL (smpps:// always does). */
  tls?: boolean;
  /** CA certificate(s) to trust: a PEM file path, or PEM contents as a Buffer. */
  ca?: string | Buffer;
  /** Server name to check the certificate against, when it differs from the URL host. */
  servername?: string;
  systemType?: string;
  logger?: SmppLogger;
}

export interface SmppEndpoint {
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
}

/** Parses smpp://system_id:password@host:port (smpps:// or ssmpp:// for TLS). */
export function parseSmppUrl(url: string): SmppEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SettingsError('KMC_SMPP_URL', 'is not a URL; expected smpp://system_id:password@host:port');
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!['smpp', 'smpps', 'ssmpp'].includes(scheme)) {
    throw new SettingsError('KMC_SMPP_URL', `scheme "${scheme}" is not smpp or smpps`);
  }
  const tls = scheme !== 'smpp';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new SettingsError('KMC_SMPP_URL', 'has no host');
  const systemId = decodeURIComponent(parsed.username);
  if (!systemId) throw new SettingsError('KMC_SMPP_URL', 'has no system_id (smpp://system_id:password@host:port)');
  const port = parsed.port ? Number(parsed.port) : tls ? 3550 : 2775;
  return { host, port, tls, systemId, password: decodeURIComponent(parsed.password) };
}

/** What a submit_sm carries; addresses and payload are already prepared. */
export interface SubmitSmFields {
  sourceAddr: string;
  sourceTon: number;
  sourceNpi: number;
  destinationAddr: string;
  destTon: number;
  destNpi: number;
  esmClass: number;
  dataCoding: number;
  registeredDelivery: number;
  shortMessage: Buffer;
  serviceType?: string;
  validityPeriod?: string;
}

export interface SubmitSmResponse {
  status: number;
  messageId: string | null;
}

/** A deliver_sm (or data_sm) from the SMSC, with the raw payload octets. */
export interface IncomingDeliver {
  command: 'deliver_sm' | 'data_sm';
  sourceAddr: string;
  destinationAddr: string;
  esmClass: number;
  dataCoding: number;
  shortMessage: Buffer;
  messagePayload: Buffer | null;
  receiptedMessageId?: string;
  messageState?: number;
  networkErrorCode?: Buffer;
}

/** Answers an incoming deliver_sm with a command_status (0 = taken). */
export type DeliverHandler = (deliver: IncomingDeliver) => number | Promise<number>;

export interface SmppClientStats {
  binds: number;
  connectionDrops: number;
  throttled: number;
  timeouts: number;
  enquireLinks: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface PendingPdu {
  fail: (err: SmppError) => void;
}

type ClientState = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|ISSUER|VERIFY/i;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One SMPP session with its own bind, keep-alive and reconnect loop. */
class Link {
  session: smpp.Session | null = null;
  bound = false;
  private enquireTimer: NodeJS.Timeout | null = null;
  private enquireOutstanding = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private readonly pending = new Map<number, PendingPdu>();

  constructor(
    private readonly owner: SmppClient,
    readonly role: Role,
  ) {}

  private get where(): string {
    const e = this.owner.endpoint;
    return `${e.tls ? 'smpps' : 'smpp'}://${e.host}:${e.port}`;
  }

  /** Opens the connection and binds; resolves once bound. */
  connect(): Promise<void> {
    const o = this.owner;
    const e = o.endpoint;
    return new Promise<void>((resolve, reject) => {
      const session = smppPackage().connect({
        host: e.host,
        port: e.port,
        tls: e.tls,
        // Each submit goes on the wire at once: with Nagle's algorithm the rest of a window waits for the
        // SMSC's acknowledgement of the first (up to 40 ms on Linux), so a window would leave in two parts.
        noDelay: true,
        ...(e.tls
          ? { rejectUnauthorized: true, ...(o.ca ? { ca: o.ca } : {}), ...(o.servername ? { servername: o.servername } : {}) }
          : {}),
      });
      this.session = session;
      let settled = false;
      const fail = (err: SmppError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        if (this.session === session) this.session = null;
        session.destroy();
        reject(err);
      };
      const connectTimer = setTimeout(() => {
        fail(new SmppError('SMPP_CONNECT_FAILED', `no bind with ${this.where} within ${o.connectTimeoutMs} ms`));
      }, o.connectTimeoutMs);
      session.on('error', (err: Error & { code?: string }) => {
        if (!settled) {
          const code = err.code ?? '';
          if (e.tls && TLS_ERROR.test(code)) {
            fail(
              new SmppError('SMPP_TLS_FAILED', `TLS with ${this.where} failed: ${err.message} (${code})`, {
                permanent: true,
                details: { cause: code },
              }),
            );
          } else {
            fail(new SmppError('SMPP_CONNECT_FAILED', `cannot connect to ${this.where}: ${err.message}`, { details: { cause: code } }));
          }
        } else {
          // After a socket or framing error the session cannot be trusted; close it and let the reconnect loop take over.
          o.log.warn('SMPP connection error', { role: this.role, error: err.message });
          session.destroy();
        }
      });
      session.on('close', () => {
        if (!settled) fail(new SmppError('SMPP_CONNECT_FAILED', `${this.where} closed the connection before the bind completed`));
        else if (this.session === session) this.onDown(session);
      });
      session.on('pdu', (pdu: Pdu) => {
        this.onPdu(session, pdu);
      });
      session.once(e.tls ? 'secureConnect' : 'connect', () => {
        const bind = new (smppPackage().PDU)(`bind_${this.role}`, {
          system_id: e.systemId,
          password: e.password,
          system_type: o.systemType,
          interface_version: 0x34,
        });
        const sent = session.send(bind, (resp: Pdu) => {
          if (settled) return;
          if (resp.command_status !== Status.ROK) {
            fail(
              new SmppError(
                'SMPP_BIND_REJECTED',
                `SMSC ${this.where} refused bind_${this.role} for system_id "${e.systemId}": ${describeStatus(resp.command_status)}; check the system_id and password`,
                { permanent: true, details: { status: resp.command_status } },
              ),
            );
            return;
          }
          if (!o.isRunning) {
            fail(new SmppError('SMPP_STOPPED', 'the SMPP client stopped while binding'));
            return;
          }
          settled = true;
          clearTimeout(connectTimer);
          this.bound = true;
          this.attempts = 0;
          o.stats.binds += 1;
          this.startEnquireLink(session);
          o.log.info('SMPP bound', { role: this.role, smsc: this.where, smscSystemId: str(resp, 'system_id') });
          resolve();
        });
        if (!sent) fail(new SmppError('SMPP_CONNECT_FAILED', `connection to ${this.where} closed before the bind was sent`));
      });
    });
  }

  /** Sends a request PDU and waits for its response (any command_status). */
  request(command: string, fields: Record<string, unknown>, timeoutMs: number): Promise<Pdu> {
    const session = this.session;
    if (!session || !this.bound) {
      return Promise.reject(new SmppError('SMPP_NOT_CONNECTED', `not bound to ${this.where}`));
    }
    return new Promise<Pdu>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | null = null;
      const pdu = new (smppPackage().PDU)(command, fields);
      const sent = session.send(pdu, (resp: Pdu) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.pending.delete(pdu.sequence_number);
        resolve(resp);
      });
      if (!sent) {
        done = true;
        reject(new SmppError('SMPP_NOT_CONNECTED', `connection to ${this.where} is closing; ${command} was not sent`));
        return;
      }
      const seq = pdu.sequence_number;
      timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.pending.delete(seq);
        this.owner.stats.timeouts += 1;
        reject(new SmppError('SMPP_TIMEOUT', `no ${command}_resp from ${this.where} within ${timeoutMs} ms`, { reached: 'unknown' }));
      }, timeoutMs);
      this.pending.set(seq, {
        fail: (err) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  private startEnquireLink(session: smpp.Session): void {
    const every = this.owner.enquireLinkMs;
    if (!every) return;
    this.enquireTimer = setInterval(() => {
      if (this.enquireOutstanding || this.session !== session || !this.bound) return;
      this.enquireOutstanding = true;
      this.owner.stats.enquireLinks += 1;
      this.request('enquire_link', {}, this.owner.pduTimeoutMs).then(
        () => {
          this.enquireOutstanding = false;
        },
        (err: unknown) => {
          this.enquireOutstanding = false;
          // An unanswered keep-alive means the link is dead even if TCP has not noticed.
          if (codeOfError(err) === 'SMPP_TIMEOUT' && this.session === session) {
            this.owner.log.warn('SMPP enquire_link unanswered; dropping the connection to reconnect', { role: this.role });
            session.destroy();
          }
        },
      );
    }, every);
  }

  private stopEnquireLink(): void {
    if (this.enquireTimer) clearInterval(this.enquireTimer);
    this.enquireTimer = null;
    this.enquireOutstanding = false;
  }

  private onPdu(session: smpp.Session, pdu: Pdu): void {
    if (pdu.isResponse()) return; // matched to its request by the package
    switch (pdu.command) {
      case 'enquire_link':
        session.send(pdu.response());
        return;
      case 'unbind':
        this.owner.log.info('SMSC asked to unbind', { role: this.role });
        this.bound = false;
        session.send(pdu.response(), () => {
          session.close();
        });
        return;
      case 'deliver_sm':
      case 'data_sm':
        void this.owner.handleDeliver(pdu).then((status) => {
          if (this.session === session) session.send(pdu.response(status === Status.ROK ? {} : { command_status: status }));
        });
        return;
      case 'alert_notification':
        return; // has no response PDU
      default:
        session.send(pdu.response({ command_status: Status.RINVCMDID }));
    }
  }

  private onDown(session: smpp.Session): void {
    const wasBound = this.bound;
    this.bound = false;
    this.session = null;
    this.stopEnquireLink();
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const p of lost) {
      p.fail(
        new SmppError('SMPP_CONNECTION_LOST', `connection to ${this.where} was lost before the response arrived`, { reached: 'unknown' }),
      );
    }
    session.removeAllListeners('pdu');
    if (wasBound) this.owner.stats.connectionDrops += 1;
    if (!this.owner.isRunning) return;
    this.owner.log.warn('SMPP connection lost; reconnecting', { role: this.role, inFlight: lost.length });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || !this.owner.isRunning) return;
    this.attempts += 1;
    const { minMs, maxMs } = this.owner.reconnect;
    const base = Math.min(maxMs, minMs * 2 ** Math.min(this.attempts - 1, 30));
    // Equal jitter: never below half the step, so a fleet of sidecars spreads out.
    const wait = Math.round(base / 2 + (Math.random() * base) / 2);
    this.owner.nextReconnectAt = Date.now() + wait;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.owner.isRunning) return;
      this.connect().then(
        () => {
          this.owner.linkUp();
        },
        (err: unknown) => {
          this.owner.log.warn('SMPP reconnect failed', {
            role: this.role,
            code: codeOfError(err),
            error: messageOfError(err),
            attempt: this.attempts,
          });
          // Refused credentials will not fix themselves soon: wait the longest step.
          if (err instanceof SmppError && err.permanent) this.attempts = Math.max(this.attempts, 31);
          this.scheduleReconnect();
        },
      );
    }, wait);
  }

  /** Unbinds politely (bounded), then closes; no reconnect follows. */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopEnquireLink();
    const session = this.session;
    if (!session) return;
    if (this.bound) {
      await this.request('unbind', {}, timeoutMs).catch(() => undefined);
    }
    this.bound = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        session.destroy();
        resolve();
      }, timeoutMs);
      if (session.socket.destroyed) {
        clearTimeout(timer);
        resolve();
        return;
      }
      session.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export class SmppClient {
  readonly endpoint: SmppEndpoint;
  readonly bindMode: BindMode;
  readonly windowSize: number;
  readonly pduTimeoutMs: number;
  readonly enquireLinkMs: number;
  readonly queueTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnect: { minMs: number; maxMs: number };
  readonly throttle: { minMs: number; maxMs: number };
  readonly ca: Buffer | undefined;
  readonly servername: string | undefined;
  readonly systemType: string;
  readonly log: SmppLogger;
  readonly stats: SmppClientStats = { binds: 0, connectionDrops: 0, throttled: 0, timeouts: 0, enquireLinks: 0 };
  /** When the next reconnect attempt is due (ms since epoch), for retry hints. */
  nextReconnectAt = 0;
  /** Set by the adapter; without it incoming messages are acknowledged and dropped. */
  onDeliver: DeliverHandler | null = null;

  private state: ClientState = 'new';
  private readonly links: Link[];
  private readonly tx: Link;
  private inFlightCount = 0;
  private waiters: Waiter[] = [];
  private pausedUntil = 0;
  private throttleStreak = 0;
  private wakeTimer: NodeJS.Timeout | null = null;
  private drainWaiters: Array<() => void> = [];
  private stopping: Promise<void> | null = null;

  constructor(url: string, options: SmppClientOptions = {}) {
    const endpoint = parseSmppUrl(url);
    if (options.tls) endpoint.tls = true;
    this.endpoint = endpoint;
    this.bindMode = options.bindMode ?? 'transceiver';
    if (!['transceiver', 'transmitter', 'transmitter+receiver'].includes(this.bindMode)) {
      throw new SettingsError('smpp bindMode', `"${this.bindMode}" is not transceiver, transmitter or transmitter+receiver`);
    }
    this.windowSize = positiveInt('smpp windowSize', options.windowSize, 10);
    this.pduTimeoutMs = positiveInt('smpp pduTimeoutMs', options.pduTimeoutMs, 10_000);
    this.enquireLinkMs = options.enquireLinkMs === 0 ? 0 : positiveInt('smpp enquireLinkMs', options.enquireLinkMs, 30_000);
    this.queueTimeoutMs = positiveInt('smpp queueTimeoutMs', options.queueTimeoutMs, this.pduTimeoutMs);
    this.connectTimeoutMs = positiveInt('smpp connectTimeoutMs', options.connectTimeoutMs, 10_000);
    this.reconnect = range('smpp reconnect', options.reconnect, 1_000, 60_000);
    this.throttle = range('smpp throttle', options.throttle, 1_000, 30_000);
    this.servername = options.servername;
    this.systemType = options.systemType ?? '';
    this.log = options.logger ?? silentLogger;
    if (typeof options.ca === 'string') {
      try {
        this.ca = fs.readFileSync(options.ca);
      } catch (err) {
        throw new SettingsError('smpp ca', `cannot read CA file ${options.ca}: ${(err as Error).message}`);
      }
    } else {
      this.ca = options.ca;
    }
    if (this.bindMode === 'transmitter+receiver') {
      this.tx = new Link(this, 'transmitter');
      this.links = [this.tx, new Link(this, 'receiver')];
    } else {
      this.tx = new Link(this, this.bindMode);
      this.links = [this.tx];
    }
  }

  /** True between a successful start() and stop(). */
  get isRunning(): boolean {
    return this.state === 'started' || this.state === 'starting';
  }

  /** True when every session is bound right now. */
  get isBound(): boolean {
    return this.links.every((l) => l.bound);
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** How long sending stays paused after throttling (0 when not paused). */
  throttleRemainingMs(): number {
    return Math.max(0, this.pausedUntil - Date.now());
  }

  /** Connects and binds every session. Rejects with SMPP_BIND_REJECTED, SMPP_TLS_FAILED or SMPP_CONNECT_FAILED. */
  async start(): Promise<void> {
    if (this.state === 'started' || this.state === 'starting') return;
    if (this.state === 'stopping') throw new SmppError('SMPP_STOPPED', 'the SMPP client is stopping');
    this.state = 'starting';
    const results = await Promise.allSettled(this.links.map((l) => l.connect()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      this.state = 'stopping';
      await Promise.all(this.links.map((l) => l.shutdown(1_000)));
      this.rejectWaiters();
      this.state = 'stopped';
      throw failure.reason;
    }
    this.state = 'started';
    this.pump();
  }

  /**
   * Submits one submit_sm within the window. Resolves with the SMSC's
   * command_status (errors included); rejects with SmppError when no answer
   * came (time-out, lost connection) or it could not be sent.
   */
  async submit(fields: SubmitSmFields): Promise<SubmitSmResponse> {
    await this.acquire();
    try {
      const resp = await this.tx.request(
        'submit_sm',
        {
          service_type: fields.serviceType ?? '',
          source_addr_ton: fields.sourceTon,
          source_addr_npi: fields.sourceNpi,
          source_addr: fields.sourceAddr,
          dest_addr_ton: fields.destTon,
          dest_addr_npi: fields.destNpi,
          destination_addr: fields.destinationAddr,
          esm_class: fields.esmClass,
          registered_delivery: fields.registeredDelivery,
          data_coding: fields.dataCoding,
          validity_period: fields.validityPeriod ?? '',
          short_message: fields.shortMessage,
        },
        this.pduTimeoutMs,
      );
      const status = resp.command_status;
      if (status === Status.RTHROTTLED) this.noteThrottled();
      else if (status === Status.ROK) this.throttleStreak = 0;
      return { status, messageId: status === Status.ROK ? str(resp, 'message_id') : null };
    } finally {
      this.release();
    }
  }

  /** Stops taking submits, waits (bounded) for those in flight, unbinds and closes. */
  stop(drainMs = 10_000): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= this.doStop(drainMs).finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async doStop(drainMs: number): Promise<void> {
    this.state = 'stopping';
    this.rejectWaiters();
    if (this.inFlightCount > 0) {
      await Promise.race([new Promise<void>((resolve) => this.drainWaiters.push(resolve)), delay(drainMs)]);
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    await Promise.all(this.links.map((l) => l.shutdown(Math.min(this.pduTimeoutMs, 2_000))));
    this.state = 'stopped';
    this.log.info('SMPP client stopped');
  }

  /** Called by a link after it bound again. */
  linkUp(): void {
    this.pump();
  }

  async handleDeliver(pdu: Pdu): Promise<number> {
    const deliver: IncomingDeliver = {
      command: pdu.command === 'data_sm' ? 'data_sm' : 'deliver_sm',
      sourceAddr: str(pdu, 'source_addr'),
      destinationAddr: str(pdu, 'destination_addr'),
      esmClass: num(pdu, 'esm_class'),
      dataCoding: num(pdu, 'data_coding'),
      shortMessage: rawShortMessage(pdu),
      messagePayload: rawMessagePayload(pdu),
      receiptedMessageId: typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id : undefined,
      messageState: optionalNum(pdu, 'message_state'),
      networkErrorCode: optionalBuf(pdu, 'network_error_code'),
    };
    if (!this.onDeliver) return Status.ROK;
    try {
      return await this.onDeliver(deliver);
    } catch (err) {
      // Ask the SMSC to deliver it again later rather than lose it.
      this.log.error('handling an incoming deliver_sm failed', { error: (err as Error).message });
      return Status.RX_T_APPN;
    }
  }

  private effectiveWindow(): number {
    // Right after throttling, one at a time until the SMSC accepts again.
    return this.throttleStreak > 0 ? 1 : this.windowSize;
  }

  private canSend(): boolean {
    return this.state === 'started' && this.tx.bound && Date.now() >= this.pausedUntil && this.inFlightCount < this.effectiveWindow();
  }

  private acquire(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.reject(new SmppError('SMPP_STOPPED', 'the SMPP client is stopping and takes no new messages'));
    }
    if (this.state === 'new') return Promise.reject(new SmppError('SMPP_NOT_CONNECTED', 'the SMPP client was not started'));
    if (this.waiters.length === 0 && this.canSend()) {
      this.inFlightCount += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waitMs = this.queueTimeoutMs + this.throttleRemainingMs();
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(this.waitError(waitMs));
        }, waitMs),
      };
      this.waiters.push(waiter);
      this.pump();
    });
  }

  private waitError(waitedMs: number): SmppError {
    if (!this.tx.bound) {
      return new SmppError('SMPP_NOT_CONNECTED', `not bound to the SMSC after waiting ${waitedMs} ms (reconnecting)`);
    }
    if (this.throttleRemainingMs() > 0) {
      return new SmppError('SMPP_THROTTLED', `sending is paused for ${this.throttleRemainingMs()} ms more because the SMSC throttles`);
    }
    return new SmppError('SMPP_BUSY', `no free window slot within ${waitedMs} ms (${this.inFlightCount} in flight)`);
  }

  private release(): void {
    this.inFlightCount -= 1;
    if (this.inFlightCount === 0) {
      const drained = this.drainWaiters;
      this.drainWaiters = [];
      for (const d of drained) d();
    }
    this.pump();
  }

  private pump(): void {
    while (this.waiters.length > 0 && this.canSend()) {
      const waiter = this.waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.inFlightCount += 1;
      waiter.resolve();
    }
    const pause = this.throttleRemainingMs();
    if (this.waiters.length > 0 && pause > 0 && !this.wakeTimer) {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = null;
        this.pump();
      }, pause);
    }
  }

  private noteThrottled(): void {
    this.throttleStreak += 1;
    this.stats.throttled += 1;
    const pause = Math.min(this.throttle.maxMs, this.throttle.minMs * 2 ** Math.min(this.throttleStreak - 1, 30));
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause);
    this.log.warn('SMSC throttles; pausing submits', { pauseMs: pause, streak: this.throttleStreak });
  }

  private rejectWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(new SmppError('SMPP_STOPPED', 'the SMPP client is stopping and takes no new messages'));
    }
  }
}

function positiveInt(setting: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new SettingsError(setting, `must be a positive whole number, got ${String(value)}`);
  return value;
}

function range(
  setting: string,
  value: { minMs?: number; maxMs?: number } | undefined,
  min: number,
  max: number,
): { minMs: number; maxMs: number } {
  const minMs = positiveInt(`${setting}.minMs`, value?.minMs, min);
  const maxMs = positiveInt(`${setting}.maxMs`, value?.maxMs, Math.max(max, minMs));
  if (maxMs < minMs) throw new SettingsError(setting, `maxMs (${maxMs}) is below minMs (${minMs})`);
  return { minMs, maxMs };
}
