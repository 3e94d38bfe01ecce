export type { ChannelAdapter, ChannelName, OutgoingMessage, SendOutcome } from './contract';
export { SmtpAdapter, classifySmtpError, messageIdFor } from './smtp';
export { PrintAdapter } from './print';
