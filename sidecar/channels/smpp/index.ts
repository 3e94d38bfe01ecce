/** The SMS channel over SMPP: what the rest of the sidecar may use. */
export { SmppAdapter, verdictForStatus } from './adapter';
export type { SmppAdapterOptions } from './adapter';
export { SmppClient, parseSmppUrl } from './client';
export type {
  BindMode,
  DeliverHandler,
  IncomingDeliver,
  SmppClientOptions,
  SmppClientStats,
  SmppEndpoint,
  SmppLogger,
  SubmitSmFields,
  SubmitSmResponse,
} from './client';
export {
  planSms,
  segmentInfo,
  decodeSmsPayload,
  encodeGsm7,
  isGsmText,
  gsmCost,
  concatUdh,
  GSM_SINGLE_LIMIT,
  GSM_PART_LIMIT,
  UCS2_SINGLE_LIMIT,
  UCS2_PART_LIMIT,
  MAX_PARTS,
} from './encoding';
export type { SmsEncoding, SmsPlan, SegmentInfo, ConcatInfo, DecodedPayload, PlanOptions } from './encoding';
export { parseReceipt, parseReceiptText, isReceiptEsmClass, stateOfStat } from './receipts';
export type { DeliveryReceipt, ReceiptState, TextReceipt } from './receipts';
export { destinationAddress, sourceAddress } from './addresses';
export type { SmppAddress } from './addresses';
export { SmppError } from './errors';
export type { SmppErrorCode, SmppReach } from './errors';
export { Status as SmppStatus, Ton, Npi, EsmClass, describeStatus } from './protocol';
// For the capture SMSC (sidecar/demo): the package's server side, and PDU fields read
// (raw octets included) the same way the channel reads them.
export { smppPackage, num as pduNumber, str as pduText, rawShortMessage, rawMessagePayload } from './protocol';
export type { Pdu } from './protocol';
