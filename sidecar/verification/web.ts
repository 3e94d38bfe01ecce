/**
 * The public verification page and the staff JSON API.
 *
 * /verify/<token> is public (patrons are not signed in). GET only shows a
 * button: mail systems follow links to scan them, so the address is verified
 * by the POST of that button's form, which works without JavaScript. The page
 * says plainly whether it worked, expired or is invalid, and shows no name
 * and no address, whatever the link. Every client is rate-limited.
 *
 * /api/patrons/<borrowernumber>/email-verification is for staff: it sits
 * under /api so it gets the staff sign-in and CSRF checks of the API.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import type nunjucks from 'nunjucks';
import { KmcError } from '../errors';
import type { Logger } from '../logging';
import type { VerificationService, TokenOutcome } from './service';
import type { VerificationRateLimiter } from './rate-limit';
import { pageTexts, type PageTexts } from './page-texts';
import type { StaffContext } from '../web/kit';

export interface VerificationWebDeps {
  service: VerificationService;
  limiter: VerificationRateLimiter;
  logger: Logger;
}

type PageOutcome = TokenOutcome | 'verified' | 'too_many';

const STATUS: Record<PageOutcome, number> = {
  valid: 200,
  verified: 200,
  used: 410,
  expired: 410,
  invalid: 404,
  too_many: 429,
};

function browserLang(req: Request): string | null {
  return req.acceptsLanguages('en', 'sv', 'da', 'de') || null;
}

function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** GET and POST /verify/:token. */
export function verificationPages(deps: VerificationWebDeps, pages: nunjucks.Environment): express.Router {
  const router = express.Router();

  const show = (res: Response, outcome: PageOutcome, t: PageTexts) => {
    res.status(STATUS[outcome]);
    // The link is a secret: keep it out of caches, referrers and search engines.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    res.type('html').send(pages.render('verify.njk', { t, outcome, lang: t.lang }));
  };

  const handle = (use: boolean) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      const client = clientOf(req);
      const admitted = await deps.limiter.admit(client);
      if (!admitted.ok) {
        res.setHeader('Retry-After', String(admitted.retryAfterSeconds));
        deps.logger.warn('verification.page_rate_limited', { why: admitted.why, retryAfterSeconds: admitted.retryAfterSeconds });
        show(res, 'too_many', pageTexts(browserLang(req)));
        return;
      }
      const token = String(req.params.token ?? '');
      const answer = use ? await deps.service.confirm(token) : await deps.service.inspect(token);
      if (answer.outcome === 'invalid') await deps.limiter.fail(client);
      deps.logger.info(use ? 'verification.page_post' : 'verification.page_get', { outcome: answer.outcome });
      show(res, answer.outcome, pageTexts(answer.lang, browserLang(req)));
    } catch (err) {
      next(err);
    }
  };

  router.get('/verify/:token', handle(false));
  router.post('/verify/:token', handle(true));
  return router;
}

/** Who a staff request comes from, as the sign-in recorded it. */
function staffActor(res: Response): string {
  const id = (res.locals.kmcStaff as StaffContext | undefined)?.account.borrowernumber;
  return id ? `staff:${id}` : 'staff (api)';
}

/**
 * The sign-in in front of /api decides who is a staff member; confirming an
 * address also needs the right to a patron's messages (Koha's circulate,
 * borrowers or tools).
 */
function mayHandlePatrons(req: Request, res: Response, next: NextFunction): void {
  const staff = res.locals.kmcStaff as StaffContext | undefined;
  if (staff && !staff.permissions.has('patron_messages')) {
    res.status(403).json({ error: 'KMC_FORBIDDEN', message: 'this needs the patron_messages permission' });
    return;
  }
  next();
}

const API_STATUS: Record<string, number> = {
  KMC_PATRON_NOT_FOUND: 404,
  KMC_NO_EMAIL_ADDRESS: 409,
  KMC_EMAIL_CHANGED: 409,
  KMC_BAD_REQUEST: 400,
};

/** Mounted under /api. */
export function verificationApi(deps: VerificationWebDeps): express.Router {
  const router = express.Router();
  const borrowerOf = (req: Request): number => {
    const text = String(req.params.borrowernumber ?? '');
    if (!/^[1-9]\d{0,9}$/.test(text)) throw new KmcError('KMC_BAD_REQUEST', `"${text}" is not a borrowernumber`);
    return Number(text);
  };
  const fail = (res: Response, err: unknown, next: NextFunction) => {
    if (err instanceof KmcError && API_STATUS[err.code]) {
      res.status(API_STATUS[err.code]).json({ error: err.code, message: err.message });
      return;
    }
    next(err);
  };

  router.get('/patrons/:borrowernumber/email-verification', mayHandlePatrons, async (req, res, next) => {
    try {
      res.json(await deps.service.stateOf(borrowerOf(req)));
    } catch (err) {
      fail(res, err, next);
    }
  });

  router.post('/patrons/:borrowernumber/email-verification', mayHandlePatrons, express.json({ limit: '4kb' }), async (req, res, next) => {
    try {
      const borrowernumber = borrowerOf(req);
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
      if (body.email !== undefined && typeof body.email !== 'string')
        throw new KmcError('KMC_BAD_REQUEST', '"email" must be a string: the address staff checked');
      const done = await deps.service.markVerified(borrowernumber, staffActor(res), (body.email as string | undefined) ?? null);
      res.json({ ...done, verified_by: staffActor(res) });
    } catch (err) {
      fail(res, err, next);
    }
  });
  return router;
}

/** Both routers in the shape the web app mounts them: public before sign-in, api under /api behind it. */
export function verificationRouters(deps: VerificationWebDeps): {
  public: Array<(pages: nunjucks.Environment) => express.Router>;
  api: express.Router[];
} {
  return { public: [(pages) => verificationPages(deps, pages)], api: [verificationApi(deps)] };
}
