// E-mail over SMTP.
export { SmtpAdapter, classifySmtpError, type SmtpOptions } from './adapter';
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
