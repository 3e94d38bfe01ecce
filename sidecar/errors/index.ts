/**
 * Typed errors with stable codes. Codes are part of the contract: logs, the
 * JSON API and the message table store them, so they never change meaning.
 */
export class KmcError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'KmcError';
    this.code = code;
    this.details = details;
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
