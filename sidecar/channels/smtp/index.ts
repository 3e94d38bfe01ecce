// E-mail over SMTP.
export { SmtpAdapter, classifySmtpError, type SmtpOptions } from './adapter';
