/**
 * SMS text encoding for SMPP: the GSM 03.38 default alphabet (with its
 * extension table) when the whole text fits, otherwise UCS-2. Pure functions,
 * no I/O.
 *
 * Packing choice for data_coding 0: one septet per octet (unpacked), which is
 * what SMSCs expect over SMPP; the SMSC packs septets for the air interface.
 * The concatenation UDH is sent as the usual 6 octets in front of the
 * septets; the 153-septet limit for a part already accounts for it (the SMSC
 * spends 7 septets on the header and fill bits).
 *
 * Latin-1 (data_coding 3) is never chosen for sending: handsets render it
 * inconsistently, and GSM or UCS-2 always fits.
 */
import { KmcError } from '../../errors';

export type SmsEncoding = 'gsm7' | 'ucs2';

export interface SmsPlan {
  encoding: SmsEncoding;
  dataCoding: 0 | 8;
  /** Septets (GSM, escapes counted) or UTF-16 code units (UCS-2) in the whole text. */
  units: number;
  /** short_message payloads, each with a concatenation UDH when there is more than one. */
  parts: Buffer[];
  /** The unit limit each part was cut to: 160/153 (GSM) or 70/67 (UCS-2). */
  perPart: number;
}

export interface SegmentInfo {
  encoding: SmsEncoding;
  dataCoding: 0 | 8;
  units: number;
  /** Number of SMS the text costs; 0 for an empty text. */
  parts: number;
  perPart: number;
  /** Units still free in the last part before another part is needed. */
  remaining: number;
}

export interface ConcatInfo {
  reference: number;
  total: number;
  sequence: number;
}

export interface DecodedPayload {
  text: string;
  /** Present when the payload carried a concatenation header (8- or 16-bit reference). */
  concat: ConcatInfo | null;
}

export const GSM_SINGLE_LIMIT = 160;
export const GSM_PART_LIMIT = 153;
export const UCS2_SINGLE_LIMIT = 70;
export const UCS2_PART_LIMIT = 67;
/** The concatenation header counts parts in one octet. */
export const MAX_PARTS = 255;

const ESC = 0x1b;

// Default alphabet, indexed by septet value. Position 0x1B is the escape to
// the extension table and never stands for a character of its own.
const GSM_BASIC =
  '@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5' +
  '\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u001b\u00c6\u00e6\u00df\u00c9' +
  ' !"#\u00a4%&\'()*+,-./' +
  '0123456789:;<=>?' +
  '\u00a1ABCDEFGHIJKLMNO' +
  'PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7' +
  '\u00bfabcdefghijklmno' +
  'pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0';

// Extension table: character -> septet that follows the escape.
const GSM_EXTENSION: ReadonlyArray<[string, number]> = [
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['\u20ac', 0x65],
];

const basicEncode = new Map<string, number>();
for (let i = 0; i < GSM_BASIC.length; i += 1) {
  if (i !== ESC) basicEncode.set(GSM_BASIC[i], i);
}
const extEncode = new Map<string, number>(GSM_EXTENSION);
const extDecode = new Map<number, string>(GSM_EXTENSION.map(([ch, code]) => [code, ch]));

if (GSM_BASIC.length !== 128) throw new Error('GSM table must have 128 entries');

/** Septets one character costs in the GSM alphabet, or 0 when it has none. */
export function gsmCost(ch: string): 0 | 1 | 2 {
  if (basicEncode.has(ch)) return 1;
  if (extEncode.has(ch)) return 2;
  return 0;
}

/** True when every character of the text exists in the GSM default alphabet or its extension. */
export function isGsmText(text: string): boolean {
  for (const ch of text) if (gsmCost(ch) === 0) return false;
  return true;
}

/** A unit of text that must stay inside one part: one character with its cost. */
interface Piece {
  ch: string;
  cost: number;
}

function gsmPieces(text: string): Piece[] | null {
  const pieces: Piece[] = [];
  for (const ch of text) {
    const cost = gsmCost(ch);
    if (cost === 0) return null;
    pieces.push({ ch, cost });
  }
  return pieces;
}

/** UCS-2 pieces: a surrogate pair is one piece of 2 units, so it is never split. */
function ucs2Pieces(text: string, strict: boolean): Piece[] {
  const pieces: Piece[] = [];
  for (const ch of text) {
    // `for...of` walks code points; a lone surrogate comes out on its own.
    if (ch.length === 1) {
      const c = ch.charCodeAt(0);
      if (c >= 0xd800 && c <= 0xdfff && strict) {
        throw new KmcError(
          'SMS_INVALID_TEXT',
          `text has a lone UTF-16 surrogate (U+${c.toString(16).toUpperCase()}) that no handset can show`,
          {
            codeUnit: c,
          },
        );
      }
    }
    pieces.push({ ch, cost: ch.length });
  }
  return pieces;
}

function chunk(pieces: Piece[], limit: number): Piece[][] {
  const out: Piece[][] = [];
  let current: Piece[] = [];
  let used = 0;
  for (const piece of pieces) {
    if (used + piece.cost > limit) {
      out.push(current);
      current = [];
      used = 0;
    }
    current.push(piece);
    used += piece.cost;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function sum(pieces: Piece[]): number {
  let n = 0;
  for (const p of pieces) n += p.cost;
  return n;
}

interface Layout {
  encoding: SmsEncoding;
  units: number;
  perPart: number;
  chunks: Piece[][];
}

function layout(text: string, strict: boolean): Layout {
  const gsm = gsmPieces(text);
  const encoding: SmsEncoding = gsm ? 'gsm7' : 'ucs2';
  const pieces = gsm ?? ucs2Pieces(text, strict);
  const units = sum(pieces);
  const single = encoding === 'gsm7' ? GSM_SINGLE_LIMIT : UCS2_SINGLE_LIMIT;
  const multi = encoding === 'gsm7' ? GSM_PART_LIMIT : UCS2_PART_LIMIT;
  const perPart = units <= single ? single : multi;
  const chunks = units === 0 ? [] : chunk(pieces, perPart);
  return { encoding, units, perPart, chunks };
}

function encodeGsmPieces(pieces: Piece[]): Buffer {
  const bytes: number[] = [];
  for (const { ch } of pieces) {
    const basic = basicEncode.get(ch);
    if (basic !== undefined) {
      bytes.push(basic);
    } else {
      bytes.push(ESC, extEncode.get(ch) as number);
    }
  }
  return Buffer.from(bytes);
}

function encodeUcs2Pieces(pieces: Piece[]): Buffer {
  const text = pieces.map((p) => p.ch).join('');
  const buf = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i += 1) buf.writeUInt16BE(text.charCodeAt(i), i * 2);
  return buf;
}

/** Encodes a text that fits GSM as unpacked septets (one per octet). Throws when it does not fit. */
export function encodeGsm7(text: string): Buffer {
  const pieces = gsmPieces(text);
  if (!pieces) throw new KmcError('SMS_NOT_GSM', 'text has characters outside the GSM 03.38 alphabet');
  return encodeGsmPieces(pieces);
}

/** The 6-octet concatenation header: IEI 0x00 (8-bit reference), length 3. */
export function concatUdh(reference: number, total: number, sequence: number): Buffer {
  return Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, sequence]);
}

export interface PlanOptions {
  /** Concatenation reference (0-255) shared by the parts of one message. */
  reference?: number;
}

/**
 * Decides encoding and parts for one SMS. An empty text gives one empty part
 * (callers that refuse empty messages check the text first).
 */
export function planSms(text: string, options: PlanOptions = {}): SmsPlan {
  if (typeof text !== 'string') throw new KmcError('SMS_INVALID_TEXT', 'SMS text must be a string');
  const { encoding, units, perPart, chunks } = layout(text, true);
  const dataCoding: 0 | 8 = encoding === 'gsm7' ? 0 : 8;
  const encode = encoding === 'gsm7' ? encodeGsmPieces : encodeUcs2Pieces;
  if (chunks.length > MAX_PARTS) {
    throw new KmcError('SMS_TOO_LONG', `text needs ${chunks.length} parts; a concatenated SMS has at most ${MAX_PARTS}`, {
      parts: chunks.length,
      units,
    });
  }
  if (chunks.length <= 1) {
    return { encoding, dataCoding, units, parts: [encode(chunks[0] ?? [])], perPart };
  }
  const reference = (options.reference ?? 0) & 0xff;
  const total = chunks.length;
  const parts = chunks.map((c, i) => Buffer.concat([concatUdh(reference, total, i + 1), encode(c)]));
  return { encoding, dataCoding, units, parts, perPart };
}

/**
 * Segment counter for staff pages: never throws, so it can run on every
 * keystroke (a lone surrogate simply counts as one UCS-2 unit).
 */
export function segmentInfo(text: string): SegmentInfo {
  const { encoding, units, perPart, chunks } = layout(text, false);
  const dataCoding: 0 | 8 = encoding === 'gsm7' ? 0 : 8;
  if (chunks.length === 0) return { encoding, dataCoding, units, parts: 0, perPart, remaining: perPart };
  const last = chunks[chunks.length - 1];
  return { encoding, dataCoding, units, parts: chunks.length, perPart, remaining: perPart - sum(last) };
}

function parseUdh(header: Buffer): ConcatInfo | null {
  let concat: ConcatInfo | null = null;
  let i = 0;
  while (i + 2 <= header.length) {
    const iei = header[i];
    const len = header[i + 1];
    const body = header.subarray(i + 2, i + 2 + len);
    if (body.length !== len) throw new KmcError('SMS_DECODE_FAILED', 'user data header is truncated');
    if (iei === 0x00 && len === 3) concat = { reference: body[0], total: body[1], sequence: body[2] };
    if (iei === 0x08 && len === 4) concat = { reference: body.readUInt16BE(0), total: body[2], sequence: body[3] };
    i += 2 + len;
  }
  return concat;
}

function decodeGsm7(body: Buffer): string {
  let out = '';
  for (let i = 0; i < body.length; i += 1) {
    const b = body[i];
    if (b > 0x7f) {
      throw new KmcError('SMS_DECODE_FAILED', `octet 0x${b.toString(16)} at ${i} is not a GSM septet (data_coding 0 is sent unpacked)`);
    }
    if (b !== ESC) {
      out += GSM_BASIC[b];
      continue;
    }
    if (i + 1 >= body.length) {
      // An escape with nothing after it shows as a space (GSM 03.38).
      out += ' ';
      continue;
    }
    i += 1;
    const next = body[i];
    // An unknown extension shows as the default-alphabet character (GSM 03.38).
    out += extDecode.get(next) ?? (next === ESC ? ' ' : GSM_BASIC[next & 0x7f]);
  }
  return out;
}

function decodeUcs2(body: Buffer): string {
  if (body.length % 2 !== 0) throw new KmcError('SMS_DECODE_FAILED', `UCS-2 payload has an odd length (${body.length} octets)`);
  let out = '';
  for (let i = 0; i < body.length; i += 2) out += String.fromCharCode(body.readUInt16BE(i));
  return out;
}

/**
 * Decodes one short_message payload. data_coding 0 is read as unpacked GSM
 * septets, 1 as ASCII (IA5), 3 as Latin-1, 8 as UCS-2 (UTF-16BE).
 */
export function decodeSmsPayload(buffer: Buffer, dataCoding: number, hasUdh: boolean): DecodedPayload {
  let body = buffer;
  let concat: ConcatInfo | null = null;
  if (hasUdh && buffer.length > 0) {
    const udhl = buffer[0];
    if (1 + udhl > buffer.length) throw new KmcError('SMS_DECODE_FAILED', 'user data header is longer than the payload');
    concat = parseUdh(buffer.subarray(1, 1 + udhl));
    body = buffer.subarray(1 + udhl);
  }
  switch (dataCoding) {
    case 0:
      return { text: decodeGsm7(body), concat };
    case 1:
      return { text: body.toString('ascii'), concat };
    case 3:
      return { text: body.toString('latin1'), concat };
    case 8:
      return { text: decodeUcs2(body), concat };
    default:
      throw new KmcError('SMS_UNSUPPORTED_DATA_CODING', `data_coding ${dataCoding} is not supported`, { dataCoding });
  }
}
