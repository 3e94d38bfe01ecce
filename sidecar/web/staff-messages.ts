/**
 * Messages from staff to one patron, in the JSON API (mounted under /api,
 * behind staff sign-in and the CSRF check):
 *
 *   POST /api/patrons/:borrowernumber/messages
 *     {"channel": "email" | "sms", "text": "...", "subject": "..."}
 *     Idempotency-Key: <optional; the same key twice stores one message>
 *
 * 201 with the stored message; 200 when the key had already stored it. The
 * notice engine decides (sendStaffMessage); its errors carry their meaning
 * and the web app's one error handler (web/errors.ts) gives the status: 400
 * for bad input, 404 for an unknown patron, 409 when the channel cannot carry
 * it, 503 when the channel is not set up. Errors are {"error": CODE, "message": words}.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { RefusedError } from '../errors';
import { sendStaffMessage, type NoticeDeps } from '../notices';

export interface StaffMessageApiDeps {
  notices: NoticeDeps;
  /** Checks the staff member may message patrons (e.g. a permission check); none = open. */
  guard?: RequestHandler;
  /** Who is sending, for the message's history (a staff borrowernumber). */
  actorOf?: (req: Request, res: Response) => string;
}

function invalid(message: string): RefusedError {
  return new RefusedError('KMC_STAFF_MESSAGE_INVALID', message);
}

/** The fields of the request body, or why they are not acceptable. */
function messageFields(body: unknown): { channel: string; text: string; subject: string | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('send a JSON object: {"channel": "email" or "sms", "text": "..."}');
  const fields = body as Record<string, unknown>;
  const { channel, text, subject } = fields;
  if (typeof channel !== 'string') throw invalid('"channel" is missing or not text');
  if (typeof text !== 'string') throw invalid('"text" is missing or not text');
  if (subject !== undefined && subject !== null && typeof subject !== 'string') throw invalid('"subject" must be text');
  return { channel, text, subject: subject ?? null };
}

export function staffMessageApi(deps: StaffMessageApiDeps): express.Router {
  const router = express.Router();
  const guard: RequestHandler =
    deps.guard ??
    ((_req, _res, next) => {
      next();
    });

  router.post('/patrons/:borrowernumber/messages', express.json({ limit: '64kb' }), guard, async (req, res) => {
    const param = String(req.params.borrowernumber);
    const borrowernumber = /^\d{1,10}$/.test(param) ? Number(param) : NaN;
    if (!Number.isInteger(borrowernumber) || borrowernumber <= 0) throw invalid('the patron number in the address must be a whole number');
    const fields = messageFields(req.body ?? {});
    const result = await sendStaffMessage(deps.notices, {
      borrowernumber,
      ...fields,
      actor: deps.actorOf ? deps.actorOf(req, res) : 'api',
      requestKey: req.get('Idempotency-Key') ?? null,
    });
    res.status(result.duplicate ? 200 : 201).json({
      message: { id: result.id, status: result.status, channel: result.channel, statusReason: result.statusReason },
      duplicate: result.duplicate,
    });
  });

  return router;
}
