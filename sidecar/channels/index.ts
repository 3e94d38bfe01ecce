export type { ChannelAdapter, ChannelName, OutgoingMessage, SendOutcome } from './contract';
export { SmtpAdapter, classifySmtpError, SmtpTransports } from './smtp';
export type { SmtpServerSettings, SmtpServerSource, BranchSmtpSource } from './smtp';
export { PrintAdapter, type PrintAdapterOptions, type RenderLetters } from './print';
export {
  EsmClass,
  SmppStatus,
  decodeSmsPayload,
  parseSmppUrl,
  pduNumber,
  pduText,
  rawMessagePayload,
  rawShortMessage,
  segmentInfo,
  smppPackage,
  sourceAddress,
} from './smpp';
export type { ConcatInfo, Pdu, SegmentInfo } from './smpp';
export { SmsRouter, branchSettingsSource, accountLabel, availabilityOf, routeFor } from './sms';
export type { SmsAvailability, SmsAccountSource, SmsBranchAccount, SmsRoute, AccountReceipt, SmsRouterOptions } from './sms';
export { SmppClient, SmppError } from './smpp';
export type { SmppClientOptions } from './smpp';
