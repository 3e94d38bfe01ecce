/**
 * The one place that touches the `smpp` package directly: typed field access,
 * SMPP constants, and access to the raw short_message octets.
 *
 * The package decodes short_message and message_payload as it parses a PDU
 * (data_coding 0 through its own table, unknown octets turned into spaces),
 * which loses information. We wrap its decode step once so the original
 * octets are kept beside each parsed PDU; the package's own behaviour is left
 * unchanged.
 */
import type * as smpp from 'smpp';

export type { smpp };
export type Pdu = smpp.PDU;

let loaded: typeof smpp | null = null;

/**
 * The `smpp` package, loaded (and its decoder wrapped, below) on first use: only a sidecar with an SMS centre
 * needs it, so the other commands start without it.
 */
export function smppPackage(): typeof smpp {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, as said above
    const pkg = require('smpp') as typeof smpp;
    installRawCapture(pkg);
    loaded = pkg;
  }
  return loaded;
}

/** command_status values (SMPP 3.4/5.0) that this channel acts on. */
export const Status = {
  ROK: 0x00,
  RINVMSGLEN: 0x01,
  RINVCMDLEN: 0x02,
  RINVCMDID: 0x03,
  RINVBNDSTS: 0x04,
  RALYBND: 0x05,
  RSYSERR: 0x08,
  RINVSRCADR: 0x0a,
  RINVDSTADR: 0x0b,
  RBINDFAIL: 0x0d,
  RINVPASWD: 0x0e,
  RINVSYSID: 0x0f,
  RMSGQFUL: 0x14,
  RINVESMCLASS: 0x43,
  RSUBMITFAIL: 0x45,
  RINVSRCTON: 0x48,
  RINVSRCNPI: 0x49,
  RINVDSTTON: 0x50,
  RINVDSTNPI: 0x51,
  RTHROTTLED: 0x58,
  RX_T_APPN: 0x64,
  RX_P_APPN: 0x65,
  RX_R_APPN: 0x66,
  RDELIVERYFAILURE: 0xfe,
  RUNKNOWNERR: 0xff,
  RPROHIBITED: 0x101,
  RINVDCS: 0x104,
  RINVSRCADDRSUBUNIT: 0x105,
  RINVDSTADDRSUBUNIT: 0x106,
} as const;

export const EsmClass = {
  UDHI: 0x40,
  /** Bits 2-5 of esm_class in deliver_sm: the message type. */
  TYPE_MASK: 0x3c,
  MC_DELIVERY_RECEIPT: 0x04,
  INTERMEDIATE_NOTIFICATION: 0x20,
} as const;

export const Ton = { UNKNOWN: 0, INTERNATIONAL: 1, NATIONAL: 2, NETWORK_SPECIFIC: 3, ALPHANUMERIC: 5 } as const;
export const Npi = { UNKNOWN: 0, ISDN: 1 } as const;

let statusNames: Map<number, string> | null = null;

/** The package's names of the command_status values, the first name of each. */
function namesOfStatuses(): Map<number, string> {
  if (!statusNames) {
    statusNames = new Map();
    for (const [name, value] of Object.entries(smppPackage().errors)) if (!statusNames.has(value)) statusNames.set(value, name);
  }
  return statusNames;
}

/** "ESME_RTHROTTLED (0x00000058)": name when known, always the number. */
export function describeStatus(status: number): string {
  const hex = `0x${status.toString(16).padStart(8, '0')}`;
  const name = namesOfStatuses().get(status);
  return name ? `${name} (${hex})` : `status ${hex}`;
}

interface RawFields {
  short_message?: Buffer;
  message_payload?: Buffer;
}

const rawByPdu = new WeakMap<object, RawFields>();
const WRAPPED = Symbol.for('koha-message-center.smpp.raw-message');

function installRawCapture(pkg: typeof smpp): void {
  const filter = pkg.filters.message as smpp.MessageFilter & { [WRAPPED]?: boolean };
  if (filter[WRAPPED]) return;
  const original = filter.decode;
  filter.decode = function decodeKeepingRaw(this: smpp.PDU, value: unknown, skipUdh?: unknown): unknown {
    if (Buffer.isBuffer(value)) {
      const entry = rawByPdu.get(this) ?? {};
      if (value === this.short_message) entry.short_message = value;
      else if (value === this.message_payload) entry.message_payload = value;
      rawByPdu.set(this, entry);
    }
    try {
      return original.call(this, value, skipUdh);
    } catch {
      // A payload the package cannot decode must not stall the session; the raw octets are kept.
      return value;
    }
  };
  filter[WRAPPED] = true;
}

/** The short_message octets exactly as they arrived (empty when absent). */
export function rawShortMessage(pdu: Pdu): Buffer {
  const raw = rawByPdu.get(pdu)?.short_message;
  if (raw) return raw;
  return Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
}

/** The message_payload TLV octets exactly as they arrived, if present. */
export function rawMessagePayload(pdu: Pdu): Buffer | null {
  const raw = rawByPdu.get(pdu)?.message_payload;
  if (raw) return raw;
  return Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
}

export function num(pdu: Pdu, field: string): number {
  const v = pdu[field];
  return typeof v === 'number' ? v : 0;
}

export function str(pdu: Pdu, field: string): string {
  const v = pdu[field];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  return '';
}

export function optionalNum(pdu: Pdu, field: string): number | undefined {
  const v = pdu[field];
  return typeof v === 'number' ? v : undefined;
}

export function optionalBuf(pdu: Pdu, field: string): Buffer | undefined {
  const v = pdu[field];
  return Buffer.isBuffer(v) ? v : undefined;
}
