/**
 * Delivery receipts (DLR): recognising them in deliver_sm and reading both
 * forms SMSCs use, the TLVs (receipted_message_id, message_state,
 * network_error_code) and the text "id:... sub:... dlvrd:... submit date:...
 * done date:... stat:... err:... text:...". Pure functions.
 */
import { EsmClass } from './protocol';
import type { IncomingDeliver } from './client';

export type ReceiptState = 'delivered' | 'failed' | 'other';

export interface DeliveryReceipt {
  /** The SMSC message_id this receipt is about (as submit_sm_resp gave it). */
  providerId: string;
  state: ReceiptState;
  /** The SMSC's word for the state: DELIVRD, UNDELIV, EXPIRED, ... */
  stat: string;
  err?: string;
}

export interface TextReceipt {
  id: string;
  stat: string;
  err?: string;
  sub?: string;
  dlvrd?: string;
  submitDate?: string;
  doneDate?: string;
}

/** message_state values (SMPP 3.4 5.2.28) with the stat word the text form uses. */
const STATE_WORDS: Record<number, string> = {
  0: 'SCHEDULED',
  1: 'ENROUTE',
  2: 'DELIVRD',
  3: 'EXPIRED',
  4: 'DELETED',
  5: 'UNDELIV',
  6: 'ACCEPTD',
  7: 'UNKNOWN',
  8: 'REJECTD',
  9: 'SKIPPED',
};

const FAILED_WORDS = new Set(['UNDELIV', 'UNDELIVERABLE', 'EXPIRED', 'DELETED', 'REJECTD', 'REJECTED', 'FAILED', 'FAIL', 'ERROR']);
const DELIVERED_WORDS = new Set(['DELIVRD', 'DELIVERED']);

export function stateOfStat(stat: string): ReceiptState {
  const word = stat.toUpperCase();
  if (DELIVERED_WORDS.has(word)) return 'delivered';
  if (FAILED_WORDS.has(word)) return 'failed';
  return 'other';
}

/** True for an SMSC delivery receipt or intermediate notification (esm_class message type). */
export function isReceiptEsmClass(esmClass: number): boolean {
  const type = esmClass & EsmClass.TYPE_MASK;
  return type === EsmClass.MC_DELIVERY_RECEIPT || type === EsmClass.INTERMEDIATE_NOTIFICATION;
}

/** Reads the text form; null when it has no id or no stat. */
export function parseReceiptText(text: string): TextReceipt | null {
  // "text:" is last and may quote the message itself, so fields are read only before it.
  const textAt = text.search(/(^|\s)text:/i);
  const head = textAt >= 0 ? text.slice(0, textAt) : text;
  const field = (name: string): string | undefined => {
    const m = new RegExp(`(?:^|\\s)${name}:\\s*(\\S+)`, 'i').exec(head);
    return m ? m[1] : undefined;
  };
  const dateField = (name: string): string | undefined => {
    const m = new RegExp(`(?:^|\\s)${name}:\\s*(\\d+)`, 'i').exec(head);
    return m ? m[1] : undefined;
  };
  const id = field('id');
  const stat = field('stat');
  if (!id || !stat) return null;
  const out: TextReceipt = { id, stat: stat.toUpperCase() };
  const err = field('err');
  if (err !== undefined) out.err = err;
  const sub = field('sub');
  if (sub !== undefined) out.sub = sub;
  const dlvrd = field('dlvrd');
  if (dlvrd !== undefined) out.dlvrd = dlvrd;
  const submitDate = dateField('submit date');
  if (submitDate !== undefined) out.submitDate = submitDate;
  const doneDate = dateField('done date');
  if (doneDate !== undefined) out.doneDate = doneDate;
  return out;
}

/** The receipt text of a deliver_sm: UCS-2 when data_coding says so, else read as ASCII. */
export function receiptText(deliver: IncomingDeliver): string {
  const payload = deliver.shortMessage.length > 0 ? deliver.shortMessage : (deliver.messagePayload ?? Buffer.alloc(0));
  if (deliver.dataCoding === 8) {
    const even = payload.subarray(0, payload.length - (payload.length % 2));
    return Buffer.from(even).swap16().toString('utf16le');
  }
  // Receipt fields are plain ASCII in practice, whatever data_coding claims.
  return payload.toString('latin1');
}

/**
 * Reads a receipt from a deliver_sm. TLVs win for id and state when present;
 * the text fills in what they lack. Null when it is no receipt or unreadable.
 */
export function parseReceipt(deliver: IncomingDeliver): DeliveryReceipt | null {
  if (!isReceiptEsmClass(deliver.esmClass)) return null;
  const text = parseReceiptText(receiptText(deliver));
  const providerId = deliver.receiptedMessageId?.trim() || text?.id;
  if (!providerId) return null;
  let stat: string | undefined;
  if (deliver.messageState !== undefined) stat = STATE_WORDS[deliver.messageState] ?? `STATE_${deliver.messageState}`;
  else stat = text?.stat;
  if (!stat) return null;
  const receipt: DeliveryReceipt = { providerId, state: stateOfStat(stat), stat };
  if (text?.err !== undefined) receipt.err = text.err;
  else if (deliver.networkErrorCode && deliver.networkErrorCode.length >= 3) {
    receipt.err = String(deliver.networkErrorCode.readUInt16BE(1)).padStart(3, '0');
  }
  return receipt;
}
