export type { ChannelAdapter, ChannelName, OutgoingMessage, SendOutcome } from './contract';
export { SmtpAdapter, classifySmtpError, messageIdFor } from './smtp';
export { PrintAdapter } from './print';
export { SmsRouter, branchSettingsSource, accountLabel, availabilityOf, routeFor } from './sms';
export type { SmsAvailability, SmsAccountSource, SmsBranchAccount, SmsRoute, AccountReceipt, SmsRouterOptions } from './sms';
export { SmppClient, SmppError } from './smpp';
export type { SmppClientOptions } from './smpp';
