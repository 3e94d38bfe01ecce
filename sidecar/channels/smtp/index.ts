// E-mail over SMTP.
export { SmtpAdapter, classifySmtpError, inThisThread, type SmtpOptions } from './adapter';
export { MailThread, type MailTransport } from './mail-thread';
export {
  SmtpTransports,
  kohaServerOptions,
  urlServerOptions,
  type SmtpServerSettings,
  type SmtpServerSource,
  type BranchSmtpSource,
  type SmtpRoute,
  type SmtpTransportsOptions,
} from './transports';
