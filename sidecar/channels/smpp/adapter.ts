/**
 * The SMS channel: turns one OutgoingMessage into submit_sm PDUs and gives
 * the worker exactly one verdict; hands delivery receipts to onReceipt.
 */
import { createHash } from 'crypto';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';
import { KmcError } from '../../errors';
import { destinationAddress, sourceAddress, SmppAddress } from './addresses';
import { SmppClient, SmppClientOptions, IncomingDeliver } from './client';
import { planSms, SmsPlan } from './encoding';
import { SmppError } from './errors';
import { EsmClass, Status, describeStatus } from './protocol';
import { DeliveryReceipt, isReceiptEsmClass, parseReceipt, receiptText } from './receipts';

export interface SmppAdapterOptions extends SmppClientOptions {
  /** Called for every delivery receipt; a rejection makes the SMSC send it again later. */
  onReceipt?: (receipt: DeliveryReceipt) => void | Promise<void>;
  /** Sender used when a message has none. */
  defaultFrom?: string;
  /** Longest message, in parts, the channel will send (default 10). */
  maxParts?: number;
  /** Times a throttled part is submitted again, after the pause, before giving `retry` (default 3). */
  throttleRetries?: number;
  /** Bound on how long stop() waits for sends in flight (default 10 000 ms). */
  stopTimeoutMs?: number;
}

type Verdict = { kind: 'retry' | 'failed'; code: string };

/** What a non-zero submit_sm_resp status means for the message. */
const STATUS_VERDICTS = new Map<number, Verdict>([
  [Status.RTHROTTLED, { kind: 'retry', code: 'SMPP_THROTTLED' }],
  [Status.RMSGQFUL, { kind: 'retry', code: 'SMPP_QUEUE_FULL' }],
  [Status.RSYSERR, { kind: 'retry', code: 'SMPP_SYSTEM_ERROR' }],
  [Status.RX_T_APPN, { kind: 'retry', code: 'SMPP_TEMPORARY_ERROR' }],
  [Status.RSUBMITFAIL, { kind: 'retry', code: 'SMPP_SUBMIT_FAILED' }],
  [Status.RDELIVERYFAILURE, { kind: 'retry', code: 'SMPP_DELIVERY_FAILURE' }],
  [Status.RUNKNOWNERR, { kind: 'retry', code: 'SMPP_UNKNOWN_ERROR' }],
  [Status.RINVBNDSTS, { kind: 'retry', code: 'SMPP_NOT_BOUND' }],
  [Status.RINVDSTADR, { kind: 'failed', code: 'SMPP_INVALID_DESTINATION' }],
  [Status.RINVDSTTON, { kind: 'failed', code: 'SMPP_INVALID_DESTINATION' }],
  [Status.RINVDSTNPI, { kind: 'failed', code: 'SMPP_INVALID_DESTINATION' }],
  [Status.RINVDSTADDRSUBUNIT, { kind: 'failed', code: 'SMPP_INVALID_DESTINATION' }],
  [Status.RINVSRCADR, { kind: 'failed', code: 'SMPP_INVALID_SOURCE' }],
  [Status.RINVSRCTON, { kind: 'failed', code: 'SMPP_INVALID_SOURCE' }],
  [Status.RINVSRCNPI, { kind: 'failed', code: 'SMPP_INVALID_SOURCE' }],
  [Status.RINVSRCADDRSUBUNIT, { kind: 'failed', code: 'SMPP_INVALID_SOURCE' }],
  [Status.RINVMSGLEN, { kind: 'failed', code: 'SMPP_MESSAGE_TOO_LONG' }],
  [Status.RINVDCS, { kind: 'failed', code: 'SMPP_INVALID_DATA_CODING' }],
  [Status.RINVESMCLASS, { kind: 'failed', code: 'SMPP_INVALID_ESM_CLASS' }],
]);

/** Unknown and vendor-specific statuses: refuse rather than retry forever. */
export function verdictForStatus(status: number): Verdict {
  return STATUS_VERDICTS.get(status) ?? { kind: 'failed', code: 'SMPP_REJECTED' };
}

/** Parts already accepted of a message whose later part failed, so a retry resumes instead of repeating them. */
interface Progress {
  fingerprint: string;
  reference: number;
  ids: Array<string | null>;
  at: number;
}

const PROGRESS_TTL_MS = 24 * 60 * 60 * 1000;
const PROGRESS_MAX = 10_000;
const QUEUE_FULL_RETRY_MS = 60_000;

type AdapterState = 'new' | 'started' | 'stopping' | 'stopped';

export class SmppAdapter implements ChannelAdapter {
  readonly channel = 'sms' as const;
  readonly client: SmppClient;
  private readonly onReceipt: ((receipt: DeliveryReceipt) => void | Promise<void>) | null;
  private readonly defaultFrom: string;
  private readonly maxParts: number;
  private readonly throttleRetries: number;
  private readonly stopTimeoutMs: number;
  private state: AdapterState = 'new';
  private stopping: Promise<void> | null = null;
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private reference = Math.floor(Math.random() * 256);
  private readonly progress = new Map<number, Progress>();

  constructor(url: string, options: SmppAdapterOptions = {}) {
    this.client = new SmppClient(url, options);
    this.onReceipt = options.onReceipt ?? null;
    this.defaultFrom = options.defaultFrom ?? '';
    this.maxParts = options.maxParts ?? 10;
    this.throttleRetries = options.throttleRetries ?? 3;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    if (!Number.isInteger(this.maxParts) || this.maxParts < 1 || this.maxParts > 255) {
      throw new KmcError('KMC_SETTINGS_INVALID', `smpp maxParts must be 1 to 255, got ${String(options.maxParts)}`);
    }
    if (!Number.isInteger(this.throttleRetries) || this.throttleRetries < 0) {
      throw new KmcError('KMC_SETTINGS_INVALID', `smpp throttleRetries must be 0 or more, got ${String(options.throttleRetries)}`);
    }
    this.client.onDeliver = (deliver) => this.handleDeliver(deliver);
  }

  /** The SMPP window: submits the SMSC lets us have in flight at once. */
  get maxInFlight(): number {
    return this.client.windowSize;
  }

  /** Binds to the SMSC; rejects with SMPP_BIND_REJECTED (wrong credentials), SMPP_TLS_FAILED or SMPP_CONNECT_FAILED. */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    await this.client.start();
    this.state = 'started';
  }

  stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    const deadline = Date.now() + this.stopTimeoutMs;
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.stopTimeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.client.stop(Math.max(0, deadline - Date.now()));
    this.state = 'stopped';
  }

  async send(message: OutgoingMessage): Promise<SendOutcome> {
    if (this.state !== 'started') {
      return {
        kind: 'retry',
        code: this.state === 'new' ? 'SMPP_NOT_STARTED' : 'SMPP_STOPPED',
        reason: this.state === 'new' ? 'the SMS channel has not been started' : 'the SMS channel is stopping',
      };
    }
    this.active += 1;
    try {
      return await this.deliver(message);
    } finally {
      this.active -= 1;
      if (this.active === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private async deliver(message: OutgoingMessage): Promise<SendOutcome> {
    if (message.channel !== 'sms') {
      return { kind: 'failed', code: 'SMPP_WRONG_CHANNEL', reason: `message ${message.id} is for channel "${message.channel}", not sms` };
    }
    let destination: SmppAddress;
    let source: SmppAddress;
    try {
      destination = destinationAddress(message.to);
      source = sourceAddress(message.from || this.defaultFrom);
    } catch (err) {
      return failedFrom(err, 'SMPP_INVALID_ADDRESS');
    }
    const text = message.text;
    if (text.length === 0) return { kind: 'failed', code: 'SMPP_EMPTY_MESSAGE', reason: `message ${message.id} has no text to send` };

    // Only a message with progress kept (a long one cut off half-way) needs its fingerprint checked.
    let progress = this.progress.get(message.id);
    const fingerprint = progress ? fingerprintOf(destination.addr, source.addr, text) : '';
    if (progress && (progress.fingerprint !== fingerprint || Date.now() - progress.at > PROGRESS_TTL_MS)) {
      this.progress.delete(message.id);
      progress = undefined;
    }

    let plan: SmsPlan;
    try {
      plan = planSms(text, { reference: progress?.reference ?? this.reference });
    } catch (err) {
      return failedFrom(err, 'SMPP_INVALID_TEXT', { SMS_TOO_LONG: 'SMPP_MESSAGE_TOO_LONG', SMS_INVALID_TEXT: 'SMPP_INVALID_TEXT' });
    }
    const total = plan.parts.length;
    if (total > this.maxParts) {
      const unit = plan.encoding === 'gsm7' ? 'GSM characters' : 'UCS-2 units';
      return {
        kind: 'failed',
        code: 'SMPP_MESSAGE_TOO_LONG',
        reason: `text is ${plan.units} ${unit} and needs ${total} SMS parts; the channel sends at most ${this.maxParts}`,
      };
    }
    const reference = progress?.reference ?? this.reference;
    if (!progress && total > 1) this.reference = (this.reference + 1) & 0xff;
    const ids: Array<string | null> =
      progress && progress.ids.length === total ? [...progress.ids] : new Array<string | null>(total).fill(null);

    for (let i = 0; i < total; i += 1) {
      if (ids[i] !== null) continue;
      const last = i === total - 1;
      const where = total > 1 ? ` (part ${i + 1} of ${total})` : '';
      let throttled = 0;
      for (;;) {
        let status: number;
        let messageId: string | null;
        try {
          ({ status, messageId } = await this.client.submit({
            sourceAddr: source.addr,
            sourceTon: source.ton,
            sourceNpi: source.npi,
            destinationAddr: destination.addr,
            destTon: destination.ton,
            destNpi: destination.npi,
            esmClass: total > 1 ? EsmClass.UDHI : 0,
            dataCoding: plan.dataCoding,
            // A receipt for the final part only: it is the id the worker keeps.
            registeredDelivery: last ? 1 : 0,
            shortMessage: plan.parts[i],
          }));
        } catch (err) {
          this.remember(message.id, fingerprint || fingerprintOf(destination.addr, source.addr, text), reference, ids);
          return this.transportOutcome(err, where);
        }
        if (status === Status.ROK) {
          ids[i] = messageId ?? '';
          break;
        }
        if (status === Status.RTHROTTLED && throttled < this.throttleRetries) {
          // The SMSC refused this PDU outright, so submitting it again cannot duplicate it; the client pauses first.
          throttled += 1;
          continue;
        }
        const verdict = verdictForStatus(status);
        const reason = `SMSC answered ${describeStatus(status)}${where}`;
        if (verdict.kind === 'failed') {
          this.progress.delete(message.id);
          return { kind: 'failed', code: verdict.code, reason };
        }
        this.remember(message.id, fingerprint || fingerprintOf(destination.addr, source.addr, text), reference, ids);
        return { kind: 'retry', code: verdict.code, reason, ...this.retryHint(verdict.code) };
      }
    }
    this.progress.delete(message.id);
    const lastId = ids[total - 1] || null;
    const reply =
      total === 1
        ? `SMSC accepted submit_sm, message_id ${ids[0] || '(none)'}`
        : `SMSC accepted ${total} parts, message_ids ${ids.map((id) => id || '(none)').join(', ')}`;
    return { kind: 'accepted', providerId: lastId, reply };
  }

  private transportOutcome(err: unknown, where: string): SendOutcome {
    if (err instanceof SmppError) {
      const maybe = err.reached === 'unknown' ? '; the SMSC may have received it' : '';
      return { kind: 'retry', code: err.code, reason: `${err.message}${where}${maybe}`, ...this.retryHint(err.code) };
    }
    // Anything else was raised before the PDU left (e.g. a field out of range).
    return { kind: 'failed', code: 'SMPP_INVALID_PDU', reason: `could not build submit_sm${where}: ${(err as Error).message}` };
  }

  private retryHint(code: string): { retryAfterMs?: number } {
    switch (code) {
      case 'SMPP_THROTTLED':
        return { retryAfterMs: Math.max(this.client.throttleRemainingMs(), this.client.throttle.minMs) };
      case 'SMPP_QUEUE_FULL':
        return { retryAfterMs: QUEUE_FULL_RETRY_MS };
      case 'SMPP_NOT_CONNECTED':
      case 'SMPP_NOT_BOUND':
        return { retryAfterMs: Math.max(this.client.nextReconnectAt - Date.now(), this.client.reconnect.minMs) };
      default:
        return {};
    }
  }

  private remember(id: number, fingerprint: string, reference: number, ids: Array<string | null>): void {
    if (!ids.some((x) => x !== null)) {
      this.progress.delete(id);
      return;
    }
    this.progress.delete(id);
    this.progress.set(id, { fingerprint, reference, ids: [...ids], at: Date.now() });
    if (this.progress.size > PROGRESS_MAX) {
      const oldest = this.progress.keys().next().value;
      if (oldest !== undefined) this.progress.delete(oldest);
    }
  }

  private async handleDeliver(deliver: IncomingDeliver): Promise<number> {
    if (!isReceiptEsmClass(deliver.esmClass)) {
      // Replies from patrons are not handled by this channel; acknowledge so the SMSC stops offering them.
      this.client.log.info('incoming SMS ignored (not a delivery receipt)', { from: deliver.sourceAddr });
      return Status.ROK;
    }
    const receipt = parseReceipt(deliver);
    if (!receipt) {
      this.client.log.warn('unreadable delivery receipt refused', { text: receiptText(deliver).slice(0, 200) });
      return Status.RX_P_APPN;
    }
    if (this.onReceipt) await this.onReceipt(receipt);
    return Status.ROK;
  }
}

function fingerprintOf(destination: string, source: string, text: string): string {
  return createHash('sha256').update(`${destination}\u0000${source}\u0000${text}`).digest('hex');
}

function failedFrom(err: unknown, fallbackCode: string, rename: Record<string, string> = {}): SendOutcome {
  if (err instanceof KmcError) return { kind: 'failed', code: rename[err.code] ?? err.code, reason: err.message };
  return { kind: 'failed', code: fallbackCode, reason: (err as Error).message };
}
