/**
 * The one place where an error's meaning becomes an HTTP status, for the
 * staff pages and the JSON API alike. Routes throw the error class that
 * carries the meaning (sidecar/errors); they do not pick statuses.
 */
import type { ErrorRequestHandler, Request } from 'express';
import { KmcError, codeOfError, meaningOfError, type ErrorMeaning } from '../errors';
import type { Logger } from '../logging';

const STATUS_OF_MEANING: Record<ErrorMeaning, number> = {
  not_found: 404,
  conflict: 409,
  refused: 400,
  forbidden: 403,
  unauthenticated: 401,
  unavailable: 503,
  // A delivery failure reaching a request is the sidecar's failure to act, not the client's.
  transient: 503,
  permanent: 500,
  internal: 500,
};

/** An error express or its body parsers raised before a route ran (a body that is not JSON, one too large, no such asset). */
function requestErrorStatus(err: unknown): number | null {
  if (err instanceof KmcError || typeof err !== 'object' || err === null || !('status' in err)) return null;
  const status = err.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

/** The HTTP status for anything thrown. */
export function httpStatusOf(err: unknown): number {
  return requestErrorStatus(err) ?? STATUS_OF_MEANING[meaningOfError(err)];
}

/** What a JSON client is told: the code and, unless it is the sidecar's own fault, the words. */
export function errorBody(err: unknown): { error: string; message: string } {
  const status = httpStatusOf(err);
  if (!(err instanceof KmcError))
    return { error: status < 500 ? 'KMC_BAD_REQUEST' : 'KMC_INTERNAL', message: status < 500 ? 'bad request' : FAULT };
  // Faults of the sidecar keep their details in the log, not in the answer.
  return { error: codeOfError(err), message: status >= 500 && status !== 503 ? FAULT : err.message };
}

const FAULT = 'the request failed; the error is in the log';

/** Logs an error once: the client's mistakes at info, the sidecar's faults at error. */
export function logRequestError(logger: Logger, err: unknown, req: Request): void {
  const status = httpStatusOf(err);
  const code = codeOfError(err);
  if (status >= 500) logger.error('web.error', { code, status, path: req.path, error: err instanceof Error ? err.message : String(err) });
  else logger.info('web.refused', { code, status, path: req.path });
}

/** The JSON API's error answer, for routers mounted on their own (the web app's handler does the same). */
export function apiErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    logRequestError(logger, err, req);
    res.status(httpStatusOf(err)).json(errorBody(err));
  };
}
