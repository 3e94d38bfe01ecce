/**
 * The public verification page and the staff JSON API.
 *
 * /verify/<token> is public (patrons are not signed in). GET only shows a
 * button: mail systems follow links to scan them, so the address is verified
 * by the POST of that button's form, which works without JavaScript. The page
 * says plainly whether it worked, expired or is invalid, and shows no name
 * and no address, whatever the link, and speaks the browser's language until
 * the link has verified the address. Wrong links are rate-limited per client;
 * a link that checks out is always answered.
 *
 * /api/patrons/<borrowernumber>/email-verification is for staff: it sits
 * under /api so it gets the staff sign-in and CSRF checks of the API.
 * Errors go to the web app's one error handler (web/errors.ts).
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import type nunjucks from 'nunjucks';
import { ForbiddenError, RefusedError } from '../errors';
import type { Logger } from '../logging';
import {
  verificationPageTexts,
  VERIFICATION_PAGE_LANGS,
  type VerificationPageTexts,
  type VerificationService,
  type TokenOutcome,
  type VerificationRateLimiter,
} from '../verification';
import { formOf, staffOf } from './kit';

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

/** The language the browser asks for, among those the page has texts in. */
function browserLang(req: Request): string | null {
  return req.acceptsLanguages(...VERIFICATION_PAGE_LANGS) || null;
}

function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** GET and POST /verify/:token. */
export function verificationPages(deps: VerificationWebDeps, pages: nunjucks.Environment): express.Router {
  const router = express.Router();

  const show = (res: Response, outcome: PageOutcome, t: VerificationPageTexts) => {
    res.status(STATUS[outcome]);
    // The link is a secret: keep it out of caches, referrers and search engines.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    res.type('html').send(pages.render('verify.njk', { t, outcome, lang: t.lang }));
  };

  const handle = (use: boolean) => async (req: Request, res: Response) => {
    const client = clientOf(req);
    const token = String(req.params.token);
    // The link is checked first (its signature in constant time, before any database look-up): a link that checks out
    // is answered whatever else came from its address, so wrong links from one address (a proxy, a school's network)
    // never lock the patrons behind it out of their own links. Only the wrong ones are limited.
    const answer = use ? await deps.service.confirm(token) : await deps.service.inspect(token);
    const admitted = await deps.limiter.admit(client);
    if (answer.outcome === 'invalid') {
      if (!admitted.ok) {
        res.setHeader('Retry-After', String(admitted.retryAfterSeconds));
        deps.logger.warn('verification.page_rate_limited', { why: admitted.why, retryAfterSeconds: admitted.retryAfterSeconds });
        show(res, 'too_many', verificationPageTexts(browserLang(req)));
        return;
      }
      await deps.limiter.fail(client);
    }
    deps.logger.info(use ? 'verification.page_post' : 'verification.page_get', { outcome: answer.outcome });
    // The browser's language until the link has done its work: answering a link in its patron's language would tell a
    // guesser more about it than the page itself says.
    const patronLang = answer.outcome === 'verified' ? answer.lang : null;
    show(res, answer.outcome, verificationPageTexts(patronLang, browserLang(req)));
  };

  router.get('/verify/:token', handle(false));
  router.post('/verify/:token', handle(true));
  return router;
}

/** Who a staff request comes from, as the sign-in recorded it. */
function staffActor(res: Response): string {
  const id = staffOf(res)?.account.borrowernumber;
  return id ? `staff:${id}` : 'staff (api)';
}

/**
 * The sign-in in front of /api decides who is a staff member; confirming an
 * address also needs the right to a patron's messages (Koha's circulate,
 * borrowers or tools).
 */
function mayHandlePatrons(_req: Request, res: Response, next: NextFunction): void {
  const staff = staffOf(res);
  if (staff && !staff.permissions.has('patron_messages'))
    throw new ForbiddenError('KMC_FORBIDDEN', 'this needs the patron_messages permission');
  next();
}

/** Mounted under /api. */
export function verificationApi(deps: VerificationWebDeps): express.Router {
  const router = express.Router();
  const borrowerOf = (req: Request): number => {
    const text = String(req.params.borrowernumber);
    if (!/^[1-9]\d{0,9}$/.test(text)) throw new RefusedError('KMC_BAD_REQUEST', `"${text}" is not a borrowernumber`);
    return Number(text);
  };

  router.get('/patrons/:borrowernumber/email-verification', mayHandlePatrons, async (req, res) => {
    res.json(await deps.service.stateOf(borrowerOf(req)));
  });

  router.post('/patrons/:borrowernumber/email-verification', mayHandlePatrons, express.json({ limit: '4kb' }), async (req, res) => {
    const borrowernumber = borrowerOf(req);
    const body = formOf(req);
    if (body.email !== undefined && typeof body.email !== 'string')
      throw new RefusedError('KMC_BAD_REQUEST', '"email" must be a string: the address staff checked');
    const done = await deps.service.markVerified(borrowernumber, staffActor(res), body.email ?? null);
    res.json({ ...done, verified_by: staffActor(res) });
  });
  return router;
}
