/**
 * Every error code the sidecar gives, in one place, each with its meaning.
 * Codes are part of the contract: logs, the JSON API, the command line and
 * the message table show them, so a code never changes meaning.
 *
 * Meanings:
 * - not_found: what was asked for does not exist (HTTP 404)
 * - conflict: it exists but is in a state that does not allow this now (409)
 * - refused: the input is not acceptable as given (400/422)
 * - forbidden: the staff member may not do this (403)
 * - unauthenticated: nobody is signed in (401)
 * - unavailable: a part this needs is not set up or not reachable now (503)
 * - transient: a passing failure; the same thing later may work
 * - permanent: will never work as it is
 * - internal: a fault of the sidecar itself (500)
 */
export const ERROR_MEANINGS = [
  'not_found',
  'conflict',
  'refused',
  'forbidden',
  'unauthenticated',
  'unavailable',
  'transient',
  'permanent',
  'internal',
] as const;
export type ErrorMeaning = (typeof ERROR_MEANINGS)[number];

export const ERROR_CODES = {
  // Settings and start-up
  KMC_SETTINGS_INVALID: 'refused',
  KMC_MIGRATIONS_PENDING: 'unavailable',
  KMC_MIGRATION_CHANGED: 'permanent',
  KMC_USAGE: 'refused',
  KMC_DEMO_REFUSED: 'refused',
  KMC_SEED_REFUSED: 'refused',
  KMC_BENCH_REFUSED: 'refused',
  KMC_INTERNAL: 'internal',
  KMC_NOT_IMPLEMENTED: 'refused',
  KMC_NOT_AVAILABLE: 'unavailable',

  // Requests from the pages and the JSON API
  KMC_BAD_REQUEST: 'refused',
  KMC_BAD_DATE: 'refused',
  KMC_BAD_LEVEL: 'refused',
  KMC_BAD_CHANNEL: 'refused',
  KMC_BAD_SCHEDULE: 'refused',
  KMC_UNKNOWN_MESSAGE_TYPE: 'refused',
  KMC_NOT_FOUND: 'not_found',
  KMC_PATRON_NOT_FOUND: 'not_found',
  KMC_MESSAGE_NOT_FOUND: 'not_found',
  KMC_RUN_NOT_FOUND: 'not_found',
  KMC_SIGN_IN_REQUIRED: 'unauthenticated',
  KMC_FORBIDDEN: 'forbidden',
  KMC_CSRF_REFUSED: 'forbidden',
  KMC_LAUNCH_TOKEN_INPUT: 'refused',

  // Rules, routines, templates
  KMC_RULE_INVALID: 'refused',
  KMC_RULE_NOT_FOUND: 'not_found',
  KMC_BASELINE_RULE: 'conflict',
  KMC_NO_BASELINE_RULE: 'permanent',
  KMC_ROUTINE_INVALID: 'refused',
  KMC_ROUTINE_NOT_FOUND: 'not_found',
  KMC_TEMPLATE_INVALID: 'refused',
  KMC_TEMPLATE_KEY: 'refused',

  // Runs and messages
  KMC_RUN_NOT_DONE: 'conflict',
  KMC_MESSAGE_STATE: 'conflict',
  KMC_NO_RENDER_DATA: 'conflict',
  KMC_STAFF_MESSAGE_INVALID: 'refused',
  KMC_TYPE_NOT_USED: 'conflict',
  KMC_CHANNEL_UNAVAILABLE: 'unavailable',
  KMC_CHANNEL_NOT_ALLOWED: 'conflict',
  KMC_NO_CONTACT: 'conflict',
  KMC_NO_EMAIL_ADDRESS: 'conflict',
  KMC_EMAIL_CHANGED: 'conflict',

  // Delivery
  KMC_DELIVERY_TRANSIENT: 'transient',
  KMC_DELIVERY_PERMANENT: 'permanent',

  // SMS and the SMPP session
  SMPP_NOT_CONNECTED: 'transient',
  SMPP_STOPPED: 'transient',
  SMPP_BUSY: 'transient',
  SMPP_THROTTLED: 'transient',
  SMPP_TIMEOUT: 'transient',
  SMPP_CONNECTION_LOST: 'transient',
  SMPP_BIND_REJECTED: 'permanent',
  SMPP_CONNECT_FAILED: 'transient',
  SMPP_TLS_FAILED: 'permanent',
  SMPP_INVALID_DESTINATION: 'permanent',
  SMPP_INVALID_SOURCE: 'refused',
  SMS_INVALID_TEXT: 'permanent',
  SMS_NOT_GSM: 'permanent',
  SMS_TOO_LONG: 'permanent',
  SMS_DECODE_FAILED: 'permanent',
  SMS_UNSUPPORTED_DATA_CODING: 'permanent',

  // Packaging the Koha plugin
  KMC_MANIFEST_INVALID: 'refused',
  KMC_PACKAGE_FAILED: 'internal',
} as const satisfies Record<string, ErrorMeaning>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function meaningOf(code: string): ErrorMeaning {
  return (ERROR_CODES as Record<string, ErrorMeaning | undefined>)[code] ?? 'internal';
}
