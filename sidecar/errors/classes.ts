/**
 * Typed errors: a stable code from the registry (codes.ts) and a class that
 * carries its meaning. The web maps meanings to HTTP statuses in one place;
 * the command line maps them to exit codes.
 */
import { meaningOf, type ErrorCode, type ErrorMeaning } from './codes';

export type ErrorDetails = Record<string, unknown>;

export class KmcError extends Error {
  readonly code: string;
  readonly meaning: ErrorMeaning;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'KmcError';
    this.code = code;
    this.meaning = meaningOf(code);
    this.details = details;
  }
}

/** What was asked for does not exist. */
export class NotFoundError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'NotFoundError';
  }
}

/** It exists, but its state does not allow this now. */
export class ConflictError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'ConflictError';
  }
}

/** The input is not acceptable as given. */
export class RefusedError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'RefusedError';
  }
}

/** The staff member may not do this. */
export class ForbiddenError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'ForbiddenError';
  }
}

/** Nobody is signed in, and this needs a signed-in staff member. */
export class UnauthenticatedError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'UnauthenticatedError';
  }
}

/** A part this needs is not set up or not reachable now. */
export class UnavailableError extends KmcError {
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'UnavailableError';
  }
}

/** A passing failure of delivery: the same send later may work. */
export class TransientError extends KmcError {
  constructor(message: string, details?: ErrorDetails) {
    super('KMC_DELIVERY_TRANSIENT', message, details);
    this.name = 'TransientError';
  }
}

/** A delivery failure that will never work as it is. */
export class PermanentError extends KmcError {
  constructor(message: string, details?: ErrorDetails) {
    super('KMC_DELIVERY_PERMANENT', message, details);
    this.name = 'PermanentError';
  }
}

/** A setting from the environment or the settings tables is missing or wrong. */
export class SettingsError extends KmcError {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super('KMC_SETTINGS_INVALID', `${setting}: ${message}`, { setting });
    this.name = 'SettingsError';
    this.setting = setting;
  }
}

/** A notice template failed to parse, failed the safety check, or failed to render. */
export class TemplateError extends KmcError {
  constructor(message: string, details: { template?: string; line?: number; column?: number; reason?: string } = {}) {
    super('KMC_TEMPLATE_INVALID', message, details);
    this.name = 'TemplateError';
  }
}

/** The command line was called with words it does not understand. */
export class UsageError extends KmcError {
  constructor(message: string) {
    super('KMC_USAGE', message);
    this.name = 'UsageError';
  }
}

/** The meaning of any thrown value: a KmcError's own, otherwise internal. */
export function meaningOfError(err: unknown): ErrorMeaning {
  return err instanceof KmcError ? err.meaning : 'internal';
}

/** The code of any thrown value, for logs and run records. */
export function codeOfError(err: unknown): string {
  if (err instanceof KmcError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'KMC_INTERNAL';
}

/** The message of any thrown value, for logs and outcomes: an Error's own, otherwise the value in words. */
export function messageOfError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
