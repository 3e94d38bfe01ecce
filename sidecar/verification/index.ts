/**
 * E-mail verification: what the rest of the sidecar may use.
 */
export {
  VerificationService,
  readVerificationState,
  type VerificationDeps,
  type ScanResult,
  type PatronVerificationState,
  type TokenOutcome,
  type VerificationState,
} from './service';
export { VerificationStore, type VerificationRow } from './store';
export { VerificationRateLimiter, DEFAULT_RATE_LIMITS, type RateLimitOptions } from './rate-limit';
export {
  pageTexts as verificationPageTexts,
  PAGE_LANGS as VERIFICATION_PAGE_LANGS,
  type PageTexts as VerificationPageTexts,
} from './page-texts';
export { startVerificationSchedule, DEFAULT_SCAN_EVERY_MS, type VerificationSchedule } from './schedule';
export { verificationCommand, describeState, VERIFICATION_USAGE } from './cli';
export {
  loadVerificationSettings,
  parseVerificationSettings,
  SETTING as VERIFICATION_SETTING,
  type VerificationSettings,
} from './settings';
export { createVerificationToken, isSignedToken, tokenHash } from './tokens';
export { sendHeldByNextChannel } from './held';
