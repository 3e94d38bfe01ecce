export {
  ConflictError,
  ForbiddenError,
  KmcError,
  NotFoundError,
  PermanentError,
  RefusedError,
  SettingsError,
  TemplateError,
  TransientError,
  UnauthenticatedError,
  UnavailableError,
  UsageError,
  codeOfError,
  meaningOfError,
  messageOfError,
  type ErrorDetails,
} from './classes';
export { ERROR_CODES, ERROR_MEANINGS, meaningOf, type ErrorCode, type ErrorMeaning } from './codes';
