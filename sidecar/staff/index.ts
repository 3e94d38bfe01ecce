/** Staff on the pages: their sign-in sessions, launch-token nonces, failed sign-ins, and the audit record of what they did. */
export { SessionStore, NonceStore, SigninThrottle, type Session, type SigninName } from './sessions';
export { AuditLog, type AuditEntry, type AuditRow } from './audit';
