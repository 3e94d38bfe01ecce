/**
 * The notice engine's JSON API, mounted by the web app under /api (behind
 * staff sign-in and the CSRF check there):
 *
 *   POST /api/patrons/:borrowernumber/messages
 *     {"channel": "email" | "sms", "text": "...", "subject": "..."}
 *     Idempotency-Key: <optional; the same key twice stores one message>
 *
 * 201 with the stored message; 200 when the key had already stored it; 400
 * for bad input; 404 for an unknown patron; 409 when the channel cannot
 * carry it (no usable address, not allowed); 503 when the channel is not
 * set up. Errors are {"error": CODE, "message": words}.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { KmcError } from '../errors';
import type { NoticeDeps } from './context';
import { sendStaffMessage } from './staff';

export interface NoticeRouterDeps {
  notices: NoticeDeps;
  /** Checks the staff member may message patrons (e.g. a permission check); none = open. */
  guard?: RequestHandler;
  /** Who is sending, for the message's history (a staff borrowernumber). */
  actorOf?: (req: Request, res: Response) => string;
}

const STATUS_OF: Record<string, number> = {
  KMC_STAFF_MESSAGE_INVALID: 400,
  KMC_PATRON_NOT_FOUND: 404,
  KMC_NO_CONTACT: 409,
  KMC_CHANNEL_NOT_ALLOWED: 409,
  KMC_TYPE_NOT_USED: 409,
  KMC_CHANNEL_UNAVAILABLE: 503,
};

export function createNoticeRouter(deps: NoticeRouterDeps): express.Router {
  const router = express.Router();
  const guard: RequestHandler =
    deps.guard ??
    ((_req, _res, next) => {
      next();
    });

  router.post('/patrons/:borrowernumber/messages', express.json({ limit: '64kb' }), guard, async (req, res, next) => {
    const borrowernumber = /^\d{1,10}$/.test(String(req.params.borrowernumber)) ? Number(req.params.borrowernumber) : NaN;
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      if (!Number.isInteger(borrowernumber) || borrowernumber <= 0)
        throw new KmcError('KMC_STAFF_MESSAGE_INVALID', 'the patron number in the address must be a whole number');
      if (typeof body !== 'object' || Array.isArray(body))
        throw new KmcError('KMC_STAFF_MESSAGE_INVALID', 'send a JSON object: {"channel": "email" or "sms", "text": "..."}');
      for (const field of ['channel', 'text'] as const) {
        if (typeof body[field] !== 'string') throw new KmcError('KMC_STAFF_MESSAGE_INVALID', `"${field}" is missing or not text`);
      }
      if (body.subject !== undefined && body.subject !== null && typeof body.subject !== 'string')
        throw new KmcError('KMC_STAFF_MESSAGE_INVALID', '"subject" must be text');
      const key = req.get('Idempotency-Key') ?? null;
      const result = await sendStaffMessage(deps.notices, {
        borrowernumber,
        channel: body.channel as string,
        text: body.text as string,
        subject: body.subject ?? null,
        actor: deps.actorOf ? deps.actorOf(req, res) : 'api',
        requestKey: key,
      });
      res.status(result.duplicate ? 200 : 201).json({
        message: { id: result.id, status: result.status, channel: result.channel, statusReason: result.statusReason },
        duplicate: result.duplicate,
      });
    } catch (err) {
      const status = err instanceof KmcError ? STATUS_OF[err.code] : undefined;
      if (!status) {
        next(err);
        return;
      }
      deps.notices.logger.info('staff_message.refused', {
        borrowernumber: Number.isFinite(borrowernumber) ? borrowernumber : null,
        code: (err as KmcError).code,
      });
      res.status(status).json({ error: (err as KmcError).code, message: (err as Error).message });
    }
  });

  return router;
}
