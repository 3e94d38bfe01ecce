/**
 * A capture SMSC for the demo, the tests and the benchmark, built on the
 * `smpp` package's server over loopback. It checks credentials, records every submit_sm (decoded with
 * the channel's own decoder, concatenated parts joined), answers with a
 * message_id, sends delivery receipts on demand, and has knobs to misbehave:
 * throttle, refuse a destination, answer late, drop the connection, stay
 * silent.
 */
import * as net from 'net';
import type * as smpp from 'smpp';
import {
  EsmClass,
  SmppStatus as Status,
  decodeSmsPayload,
  pduNumber,
  pduText,
  rawMessagePayload,
  rawShortMessage,
  smppPackage,
  type ConcatInfo,
  type Pdu,
} from '../channels';

/**
 * Self-signed certificate for 127.0.0.1 and localhost (valid 2000-2199),
 * for TLS tests only; the key protects nothing.
 */
export const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/MPPwRShL9HNXMam
DOGR0CzzFuVb1R6TkzhvGWY6CZ+hRANCAASlzd+80/3BactOy6R21F70WUWIyucS
cgTqe7TyDh2jYhkeXkz+DunWPJtBfcJjpEP/BWCl1w1YMmHiCz+Qm8wf
-----END PRIVATE KEY-----
`;
export const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBbzCCARWgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1rbWMtdGVz
dC1zbXNjMCAXDTAwMDEwMTAwMDAwMFoYDzIxOTkxMjMxMjM1OTU5WjAYMRYwFAYD
VQQDDA1rbWMtdGVzdC1zbXNjMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpc3f
vNP9wWnLTsukdtRe9FlFiMrnEnIE6nu08g4do2IZHl5M/g7p1jybQX3CY6RD/wVg
pdcNWDJh4gs/kJvMH6NOMEwwDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/
AAABgglsb2NhbGhvc3QwHQYDVR0OBBYEFOtoU4dOIoYUIJs+bdSYlwQuREB6MAoG
CCqGSM49BAMCA0gAMEUCIQD0cC5cwNr3l42Lxyo2YMDmlhw/nA9oAmaKRwZUMb8s
DQIgOh8tDb3PyXB4BqjofpYc9F0Dh7w6t+avK5OkAMy7WyQ=
-----END CERTIFICATE-----
`;

export type SmscBindMode = 'transceiver' | 'transmitter' | 'receiver';

export interface CaptureSmscOptions {
  systemId?: string;
  password?: string;
  host?: string;
  /** 0 (default) picks a free port; read it from `port` afterwards. */
  port?: number;
  /** Serve SMPP over TLS with the built-in test certificate, or a given one. */
  tls?: boolean | { key: string | Buffer; cert: string | Buffer };
  /** Close a session that sends nothing for this long (as real SMSCs do). */
  idleTimeoutMs?: number;
  /** Called for each whole message accepted (a capture sink for the demo). */
  onMessage?: (sms: ReceivedSms) => void;
  /** Send a receipt for every accepted message by itself, after delayMs (default 100). */
  autoReceipt?: ReceiptRequest & { delayMs?: number };
}

export interface RecordedBind {
  sessionId: number;
  mode: SmscBindMode;
  systemId: string;
  status: number;
  at: number;
}

export interface RecordedSubmit {
  sessionId: number;
  sequenceNumber: number;
  sourceAddr: string;
  sourceTon: number;
  sourceNpi: number;
  destinationAddr: string;
  destTon: number;
  destNpi: number;
  esmClass: number;
  dataCoding: number;
  registeredDelivery: number;
  /** short_message octets as received (UDH included). */
  payload: Buffer;
  /** This part's text, decoded with the channel's decoder; null when it could not be decoded. */
  text: string | null;
  decodeError?: string;
  concat: ConcatInfo | null;
  /** command_status this SMSC chose (even when it never sent the answer). */
  status: number;
  messageId: string | null;
  answered: boolean;
  /** A concatenated part whose sequence number had already arrived. */
  duplicate: boolean;
  at: number;
  /** Submits of the same session still unanswered when this one arrived: the client's window, as the SMSC sees it. */
  inFlight: number;
}

/** A whole SMS as the SMSC accepted it: single, or all its parts joined. */
export interface ReceivedSms {
  text: string;
  from: string;
  sourceTon: number;
  sourceNpi: number;
  to: string;
  destTon: number;
  destNpi: number;
  dataCoding: number;
  messageIds: string[];
  parts: RecordedSubmit[];
}

export interface ReceiptRequest {
  /** 'tlv': receipted_message_id + message_state; 'text': id:... stat:...; 'both'. Default 'tlv'. */
  form?: 'tlv' | 'text' | 'both';
  /** DELIVRD (default), UNDELIV, EXPIRED, REJECTD, ACCEPTD, ... */
  stat?: string;
  /** Error code, three digits in the text form (default 000). */
  err?: string;
}

const STATE_OF_STAT: Record<string, number> = {
  SCHEDULED: 0,
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
  SKIPPED: 9,
};

interface SessionState {
  id: number;
  session: smpp.Session;
  mode: SmscBindMode | null;
  systemId: string;
  /** Dropped on purpose: everything still buffered from it is ignored. */
  dead: boolean;
  idleTimer: NodeJS.Timeout | null;
}

function smppTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

export class CaptureSmsc {
  readonly systemId: string;
  readonly password: string;
  readonly host: string;
  readonly tls: boolean;
  port = 0;

  readonly binds: RecordedBind[] = [];
  readonly submits: RecordedSubmit[] = [];
  readonly messages: ReceivedSms[] = [];
  enquireLinks = 0;
  unbinds = 0;

  private readonly server: smpp.Server;
  private readonly sessions = new Set<SessionState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly groups = new Map<string, Map<number, RecordedSubmit>>();
  private readonly idleTimeoutMs: number;
  private readonly onMessage: ((sms: ReceivedSms) => void) | null;
  private readonly autoReceipt: (ReceiptRequest & { delayMs?: number }) | null;
  private nextSessionId = 0;
  private nextMessageId = 0;

  private throttleCount = 0;
  private readonly refusals = new Map<string, number>();
  private responseDelayMs = 0;
  private dropAfter = 0;
  private ignoreCount = 0;
  private silentEnquireLinks = false;

  private constructor(options: CaptureSmscOptions) {
    this.systemId = options.systemId ?? 'kmc';
    this.password = options.password ?? 'secret';
    this.host = options.host ?? '127.0.0.1';
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.onMessage = options.onMessage ?? null;
    this.autoReceipt = options.autoReceipt ?? null;
    const tls = options.tls === true ? { key: TEST_TLS_KEY, cert: TEST_TLS_CERT } : options.tls || null;
    this.tls = tls !== null;
    const onSession = (s: smpp.Session) => {
      // Answers leave at once, as an SMSC's do, not held back until the client acknowledges the one before.
      s.socket.setNoDelay(true);
      this.onSession(s);
    };
    this.server = tls ? smppPackage().createServer(tls, onSession) : smppPackage().createServer(onSession);
  }

  static async start(options: CaptureSmscOptions = {}): Promise<CaptureSmsc> {
    const smsc = new CaptureSmsc(options);
    await new Promise<void>((resolve, reject) => {
      smsc.server.once('error', reject);
      smsc.server.listen(options.port ?? 0, smsc.host, () => {
        smsc.server.off('error', reject);
        resolve();
      });
    });
    smsc.port = (smsc.server.address() as net.AddressInfo).port;
    return smsc;
  }

  /** smpp://system_id:password@host:port (smpps:// when serving TLS). */
  get url(): string {
    return this.urlWith(this.systemId, this.password);
  }

  urlWith(systemId: string, password: string): string {
    const scheme = this.tls ? 'smpps' : 'smpp';
    return `${scheme}://${encodeURIComponent(systemId)}:${encodeURIComponent(password)}@${this.host}:${this.port}`;
  }

  /** Sessions bound right now. */
  get boundSessions(): number {
    return [...this.sessions].filter((s) => s.mode !== null && !s.dead).length;
  }

  /** Submits that reached the SMSC for a given part text (duplicates included). */
  submitsWithText(text: string): RecordedSubmit[] {
    return this.submits.filter((s) => s.text === text);
  }

  /** Whole messages with this text that the SMSC accepted. */
  messagesWithText(text: string): ReceivedSms[] {
    return this.messages.filter((m) => m.text === text);
  }

  /** Answer ESME_RTHROTTLED to the next n submits. */
  throttleNext(n: number): void {
    this.throttleCount = n;
  }

  /** Answer this status to every submit for this destination (with or without '+'). */
  refuseDestination(destination: string, status: number = Status.RINVDSTADR): void {
    this.refusals.set(destination.replace(/^\+/, ''), status);
  }

  /** Wait this long before answering each submit. */
  setResponseDelay(ms: number): void {
    this.responseDelayMs = ms;
  }

  /**
   * Drop the connection on the n-th submit from now: that submit is received
   * and accepted (recorded) but its answer is never sent, as when a link dies.
   */
  dropAfterSubmits(n: number): void {
    this.dropAfter = n;
  }

  /** Record and accept the next n submits without ever answering them. */
  ignoreNextSubmits(n: number): void {
    this.ignoreCount = n;
  }

  /** Stop (or resume) answering enquire_link. */
  ignoreEnquireLinks(on: boolean): void {
    this.silentEnquireLinks = on;
  }

  /** Clears records and knobs between tests; sessions stay open. */
  reset(): void {
    this.binds.length = 0;
    this.submits.length = 0;
    this.messages.length = 0;
    this.groups.clear();
    this.enquireLinks = 0;
    this.unbinds = 0;
    this.throttleCount = 0;
    this.refusals.clear();
    this.responseDelayMs = 0;
    this.dropAfter = 0;
    this.ignoreCount = 0;
    this.silentEnquireLinks = false;
  }

  /** Cuts every connection at once, without unbind. */
  dropConnections(): void {
    for (const s of this.sessions) this.kill(s);
  }

  /**
   * Sends a delivery receipt for an accepted message_id to a bound
   * transceiver or receiver; resolves with the deliver_sm_resp status.
   */
  sendReceipt(messageId: string, request: ReceiptRequest = {}): Promise<number> {
    const form = request.form ?? 'tlv';
    const stat = (request.stat ?? 'DELIVRD').toUpperCase();
    const err = request.err ?? '000';
    const submit = this.submits.find((s) => s.messageId === messageId);
    if (!submit) return Promise.reject(new Error(`capture SMSC accepted no message with id ${messageId}`));
    const target = [...this.sessions].find((s) => !s.dead && (s.mode === 'transceiver' || s.mode === 'receiver'));
    if (!target) return Promise.reject(new Error('no transceiver or receiver is bound to the capture SMSC'));
    const fields: Record<string, unknown> = {
      source_addr_ton: submit.destTon,
      source_addr_npi: submit.destNpi,
      source_addr: submit.destinationAddr,
      dest_addr_ton: submit.sourceTon,
      dest_addr_npi: submit.sourceNpi,
      destination_addr: submit.sourceAddr,
      esm_class: EsmClass.MC_DELIVERY_RECEIPT,
      data_coding: 0,
      short_message: Buffer.alloc(0),
    };
    if (form === 'tlv' || form === 'both') {
      fields.receipted_message_id = messageId;
      fields.message_state = STATE_OF_STAT[stat] ?? 7;
      const code = Number.parseInt(err, 10) || 0;
      if (code) fields.network_error_code = Buffer.from([0x03, (code >> 8) & 0xff, code & 0xff]);
    }
    if (form === 'text' || form === 'both') {
      const now = smppTime(new Date());
      const excerpt = (submit.text ?? '').slice(0, 20).replace(/[^\x20-\x7e]/g, '?');
      const dlvrd = stat === 'DELIVRD' ? '001' : '000';
      const text = `id:${messageId} sub:001 dlvrd:${dlvrd} submit date:${smppTime(new Date(submit.at))} done date:${now} stat:${stat} err:${err} text:${excerpt}`;
      fields.short_message = Buffer.from(text, 'ascii');
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        reject(new Error(`no deliver_sm_resp for the receipt of ${messageId} within 5000 ms`));
      }, 5000);
      this.timers.add(timer);
      const sent = target.session.send(new (smppPackage().PDU)('deliver_sm', fields), (resp: Pdu) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(resp.command_status);
      });
      if (!sent) {
        clearTimeout(timer);
        this.timers.delete(timer);
        reject(new Error('the receipt could not be sent: the session is closed'));
      }
    });
  }

  /** Polls until the condition holds; rejects with `what` after timeoutMs. */
  async waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > until) throw new Error(`capture SMSC: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sessions) this.kill(s);
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private onSession(session: smpp.Session): void {
    this.nextSessionId += 1;
    const state: SessionState = { id: this.nextSessionId, session, mode: null, systemId: '', dead: false, idleTimer: null };
    this.sessions.add(state);
    session.on('error', () => undefined); // a client vanishing is normal here
    session.on('close', () => {
      if (state.idleTimer) clearTimeout(state.idleTimer);
      this.sessions.delete(state);
    });
    session.on('pdu', (pdu: Pdu) => {
      this.onPdu(state, pdu);
    });
    this.touch(state);
  }

  private touch(state: SessionState): void {
    if (!this.idleTimeoutMs) return;
    if (state.idleTimer) clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      this.kill(state);
    }, this.idleTimeoutMs);
  }

  private kill(state: SessionState): void {
    state.dead = true;
    if (state.idleTimer) clearTimeout(state.idleTimer);
    state.session.pause();
    state.session.destroy();
  }

  private onPdu(state: SessionState, pdu: Pdu): void {
    if (state.dead) return;
    this.touch(state);
    if (pdu.isResponse()) return;
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        this.onBind(state, pdu, pdu.command.slice('bind_'.length) as SmscBindMode);
        return;
      case 'submit_sm':
        this.onSubmit(state, pdu);
        return;
      case 'enquire_link':
        this.enquireLinks += 1;
        if (!this.silentEnquireLinks) state.session.send(pdu.response());
        return;
      case 'unbind':
        this.unbinds += 1;
        state.mode = null;
        state.session.send(pdu.response(), () => {
          state.session.close();
        });
        return;
      default:
        state.session.send(pdu.response({ command_status: Status.RINVCMDID }));
    }
  }

  private onBind(state: SessionState, pdu: Pdu, mode: SmscBindMode): void {
    const systemId = pduText(pdu, 'system_id');
    let status: number = Status.ROK;
    if (state.mode !== null) status = Status.RALYBND;
    else if (systemId !== this.systemId) status = Status.RINVSYSID;
    else if (pduText(pdu, 'password') !== this.password) status = Status.RINVPASWD;
    this.binds.push({ sessionId: state.id, mode, systemId, status, at: Date.now() });
    if (status !== Status.ROK) {
      state.session.send(pdu.response({ command_status: status }), () => {
        if (state.mode === null) state.session.close();
      });
      return;
    }
    state.mode = mode;
    state.systemId = systemId;
    state.session.send(pdu.response({ system_id: 'kmc-test-smsc' }));
  }

  private onSubmit(state: SessionState, pdu: Pdu): void {
    if (state.mode !== 'transceiver' && state.mode !== 'transmitter') {
      state.session.send(pdu.response({ command_status: Status.RINVBNDSTS }));
      return;
    }
    const esmClass = pduNumber(pdu, 'esm_class');
    const dataCoding = pduNumber(pdu, 'data_coding');
    const short = rawShortMessage(pdu);
    const payload = short.length > 0 ? short : (rawMessagePayload(pdu) ?? short);
    const record: RecordedSubmit = {
      sessionId: state.id,
      sequenceNumber: pdu.sequence_number,
      sourceAddr: pduText(pdu, 'source_addr'),
      sourceTon: pduNumber(pdu, 'source_addr_ton'),
      sourceNpi: pduNumber(pdu, 'source_addr_npi'),
      destinationAddr: pduText(pdu, 'destination_addr'),
      destTon: pduNumber(pdu, 'dest_addr_ton'),
      destNpi: pduNumber(pdu, 'dest_addr_npi'),
      esmClass,
      dataCoding,
      registeredDelivery: pduNumber(pdu, 'registered_delivery'),
      payload: Buffer.from(payload),
      text: null,
      concat: null,
      status: Status.ROK,
      messageId: null,
      answered: false,
      duplicate: false,
      at: Date.now(),
      inFlight: this.submits.filter((s) => s.sessionId === state.id && !s.answered && s.status === Status.ROK).length,
    };
    try {
      const decoded = decodeSmsPayload(payload, dataCoding, (esmClass & EsmClass.UDHI) !== 0);
      record.text = decoded.text;
      record.concat = decoded.concat;
    } catch (err) {
      record.decodeError = (err as Error).message;
    }

    const refusal = this.refusals.get(record.destinationAddr);
    if (this.throttleCount > 0) {
      this.throttleCount -= 1;
      record.status = Status.RTHROTTLED;
    } else if (refusal !== undefined) {
      record.status = refusal;
    } else if (record.decodeError) {
      record.status = Status.RINVDCS;
    } else {
      this.nextMessageId += 1;
      record.messageId = `M${this.nextMessageId.toString(16).toUpperCase().padStart(8, '0')}`;
    }
    this.submits.push(record);
    if (record.status === Status.ROK) this.join(record);

    if (this.dropAfter > 0) {
      this.dropAfter -= 1;
      if (this.dropAfter === 0) {
        this.kill(state);
        return;
      }
    }
    if (this.ignoreCount > 0) {
      this.ignoreCount -= 1;
      return;
    }
    const answer = (): void => {
      if (state.dead) return;
      const sent = state.session.send(
        pdu.response(record.status === Status.ROK ? { message_id: record.messageId } : { command_status: record.status }),
      );
      record.answered = sent;
    };
    if (this.responseDelayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        answer();
      }, this.responseDelayMs);
      this.timers.add(timer);
    } else {
      answer();
    }
  }

  private join(record: RecordedSubmit): void {
    if (!record.concat) {
      this.complete([record]);
      return;
    }
    const { reference, total, sequence } = record.concat;
    const key = `${record.sourceAddr}|${record.destinationAddr}|${reference}|${total}`;
    const group = this.groups.get(key) ?? new Map<number, RecordedSubmit>();
    if (group.has(sequence)) {
      record.duplicate = true;
      return;
    }
    group.set(sequence, record);
    this.groups.set(key, group);
    if (group.size === total) {
      this.groups.delete(key);
      const parts = [...group.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
      this.complete(parts);
    }
  }

  private complete(parts: RecordedSubmit[]): void {
    const sms = this.whole(parts);
    this.messages.push(sms);
    this.onMessage?.(sms);
    const auto = this.autoReceipt;
    if (auto) {
      const last = sms.messageIds[sms.messageIds.length - 1];
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        // A client that went away simply misses its receipt, as with a real SMSC.
        this.sendReceipt(last, auto).catch(() => undefined);
      }, auto.delayMs ?? 100);
      this.timers.add(timer);
    }
  }

  private whole(parts: RecordedSubmit[]): ReceivedSms {
    const first = parts[0];
    return {
      text: parts.map((p) => p.text ?? '').join(''),
      from: first.sourceAddr,
      sourceTon: first.sourceTon,
      sourceNpi: first.sourceNpi,
      to: first.destinationAddr,
      destTon: first.destTon,
      destNpi: first.destNpi,
      dataCoding: first.dataCoding,
      messageIds: parts.map((p) => p.messageId ?? ''),
      parts,
    };
  }
}
