/**
 * Sign-in for staff: a launch token from the Koha plugin, or a Koha user
 * name and password checked against Koha's bcrypt hash. Either way the
 * result is a server-side session whose cookie works inside Koha's iframe,
 * and whose CSRF token every form of the session must carry.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type NextFunction } from 'express';
import bcrypt from 'bcryptjs';
import { safeNextPath, verifyLaunchToken } from './launch-token';
import { hasStaffAccess, permissionsOf } from './permissions';
import type { NonceStore, Session, SessionStore, SigninThrottle } from '../../staff';
import { PAGE_LANGS, pickPageLang, isPageLang, translator, type PageLang } from '../i18n';
import { cookieOf, formOf, type PageKit, type StaffContext } from '../kit';

export { permissionsOf, hasStaffAccess, PERMISSIONS, type Permission } from './permissions';

/** Constant-time comparison of two tokens of any length. */
function sameToken(a: unknown, b: string): boolean {
  if (typeof a !== 'string' || !a) return false;
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

export interface CookiePolicy {
  name: string;
  options: express.CookieOptions;
}

/**
 * Inside Koha's iframe the sidecar is a third party: its cookie must be
 * SameSite=None, which browsers take only with Secure, so https. Partitioned
 * keeps it working where third-party cookies are otherwise blocked. Over
 * plain http (a sidecar on loopback, the demo) Lax is what works.
 */
export function sessionCookiePolicy(publicUrl: string): CookiePolicy {
  const secure = publicUrl.startsWith('https:');
  return secure
    ? { name: '__Host-kmc_session', options: { httpOnly: true, secure: true, sameSite: 'none', partitioned: true, path: '/' } }
    : { name: 'kmc_session', options: { httpOnly: true, secure: false, sameSite: 'lax', path: '/' } };
}

const SIGNIN_COOKIE = 'kmc_signin';
/** Compared against when no account matches, so a wrong user name costs as long as a wrong password (Koha uses cost 8). */
let unmatchableHash: string | null = null;
function decoyHash(): string {
  unmatchableHash ??= bcrypt.hashSync(randomBytes(24).toString('hex'), 8);
  return unmatchableHash;
}

export interface AuthParts {
  sessions: SessionStore;
  nonces: NonceStore;
  throttle: SigninThrottle;
  cookie: CookiePolicy;
}

/** The sign-in's stores (built by the composition root) with the cookie policy for this sidecar's address. */
export function createAuthParts(kit: PageKit): AuthParts {
  return { ...kit.deps.auth, cookie: sessionCookiePolicy(kit.deps.settings.publicUrl) };
}

function signinFormToken(secret: string, value: string): string {
  return createHmac('sha256', secret).update(`signin:${value}`).digest('hex');
}

/** Loads the session and the staff member it belongs to, with their permissions as Koha has them now. */
export function loadStaff(kit: PageKit, parts: AuthParts) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const session = await parts.sessions.load(cookieOf(req, parts.cookie.name));
    if (session) {
      const account = await kit.deps.staff.staffAccount(session.borrowernumber);
      // Permissions are read from Koha on every request, so a change in Koha counts at once.
      if (!account || !hasStaffAccess(account.flags)) {
        await parts.sessions.destroy(session.idHash);
      } else {
        const permissions = permissionsOf(account.flags, await kit.deps.staff.subPermissions(account.borrowernumber));
        const lang = isPageLang(session.lang) ? session.lang : pickPageLang(account.lang);
        const staff: StaffContext = { session, account, permissions, lang, t: translator(lang) };
        res.locals.kmcStaff = staff;
      }
    }
    next();
  };
}

/** Pages need a signed-in staff member: browsers are sent to sign in, API callers get 401. */
export function requireSignIn() {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (res.locals.kmcStaff) {
      next();
      return;
    }
    if (req.method === 'GET' && !req.path.startsWith('/api/') && req.accepts(['html', 'json']) === 'html') {
      res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    res.status(401).json({ error: 'KMC_SIGN_IN_REQUIRED', message: 'sign in first' });
  };
}

/** Every state-changing request carries the session's token, as a form field or a header. */
export function csrfGuard(kit: PageKit) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      next();
      return;
    }
    const staff = kit.staff(res);
    const given =
      (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)._csrf : undefined) ?? req.get('x-csrf-token');
    if (sameToken(given, staff.session.csrfToken)) {
      next();
      return;
    }
    kit.deps.logger.warn('web.csrf_refused', { staff: staff.account.borrowernumber, method: req.method, path: req.path });
    await kit.audit.record({
      borrowernumber: staff.account.borrowernumber,
      action: 'csrf.refused',
      objectType: 'path',
      objectId: req.path,
      ip: kit.ip(req),
    });
    if (req.path.startsWith('/api/')) {
      res.status(403).json({ error: 'KMC_CSRF_REFUSED', message: 'the form token is missing or wrong' });
      return;
    }
    kit.fail(req, res, 403, 'error.csrf');
  };
}

function langOf(req: Request): PageLang {
  return pickPageLang(typeof req.query.lang === 'string' ? req.query.lang : null, req.get('accept-language'));
}

/** /signin, /launch, /signout and /lang. */
export function authRoutes(kit: PageKit, parts: AuthParts): express.Router {
  const router = express.Router();
  const { settings, clock, staff: reader, logger } = kit.deps;

  const startSession = async (req: Request, res: Response, borrowernumber: number, via: Session['via'], lang: string | null) => {
    // A new sign-in in the same browser replaces the session it had.
    const previous = res.locals.kmcStaff as StaffContext | undefined;
    if (previous) await parts.sessions.destroy(previous.session.idHash);
    const { cookieValue } = await parts.sessions.create({ borrowernumber, via, lang, ip: kit.ip(req) });
    res.cookie(parts.cookie.name, cookieValue, { ...parts.cookie.options, maxAge: settings.sessionMaxHours * 3_600_000 });
  };

  const signinPage = (req: Request, res: Response, status: number, fields: { error?: string; userid?: string; next: string }) => {
    const stored = cookieOf(req, SIGNIN_COOKIE);
    const value = stored && /^[0-9a-f]{32}$/.test(stored) ? stored : randomBytes(16).toString('hex');
    res.cookie(SIGNIN_COOKIE, value, { ...parts.cookie.options, maxAge: 3_600_000 });
    const lang = langOf(req);
    res
      .status(status)
      .type('html')
      .send(
        kit.pages.render('signin.njk', {
          t: translator(lang),
          lang,
          otherLangs: PAGE_LANGS.filter((l) => l !== lang),
          title: translator(lang)('signin.title'),
          formToken: signinFormToken(settings.secret, value),
          error: fields.error ?? null,
          userid: fields.userid ?? '',
          next: fields.next,
        }),
      );
  };

  router.get('/signin', (req, res) => {
    const next = safeNextPath(req.query.next);
    if (res.locals.kmcStaff) {
      res.redirect(303, next);
      return;
    }
    signinPage(req, res, 200, { next, error: req.query.out === '1' ? 'signin.signed_out' : undefined });
  });

  router.post('/signin', async (req, res) => {
    const body = formOf(req);
    const next = safeNextPath(body.next);
    const userid = typeof body.userid === 'string' ? body.userid.trim().slice(0, 75) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const cookieValue = cookieOf(req, SIGNIN_COOKIE);
    if (typeof cookieValue !== 'string' || !sameToken(body._csrf, signinFormToken(settings.secret, cookieValue))) {
      logger.warn('signin.csrf_refused', {});
      signinPage(req, res, 403, { next, userid, error: 'error.csrf' });
      return;
    }
    const ip = kit.ip(req);
    const login = userid ? await reader.staffLogin(userid) : null;
    // Counted per staff member, whether they typed their user name or their card number.
    const name = { typed: userid, borrowernumber: login?.borrowernumber ?? null };
    if (await parts.throttle.blocked(ip, name)) {
      await kit.audit.record({ borrowernumber: name.borrowernumber, action: 'signin.throttled', detail: { userid }, ip });
      signinPage(req, res, 429, { next, userid, error: 'signin.throttled' });
      return;
    }
    const hash = login?.passwordHash && /^\$2[aby]\$\d\d\$.{53}$/.test(login.passwordHash) ? login.passwordHash : null;
    // Compared against a decoy when there is no usable hash, so a wrong user name takes as long as a wrong password.
    const matches = (await bcrypt.compare(password, hash ?? decoyHash())) && hash !== null;
    if (!matches || !login) {
      await parts.throttle.failed(ip, name);
      await kit.audit.record({ borrowernumber: login?.borrowernumber ?? null, action: 'signin.failed', detail: { userid }, ip });
      signinPage(req, res, 401, { next, userid, error: 'signin.wrong' });
      return;
    }
    if (!hasStaffAccess(login.flags)) {
      await kit.audit.record({ borrowernumber: login.borrowernumber, action: 'signin.not_staff', ip });
      signinPage(req, res, 403, { next, userid, error: 'signin.not_staff' });
      return;
    }
    await parts.throttle.succeeded(login.borrowernumber);
    await startSession(req, res, login.borrowernumber, 'password', pickPageLang(login.lang, req.get('accept-language')));
    await kit.audit.record({ borrowernumber: login.borrowernumber, action: 'signin', detail: { via: 'password' }, ip });
    res.redirect(303, next);
  });

  router.get('/launch', async (req, res) => {
    const lang = langOf(req);
    const t = translator(lang);
    const refuse = async (reason: string, borrowernumber: number | null) => {
      logger.warn('launch.refused', { reason, staff: borrowernumber });
      await kit.audit.record({ borrowernumber, action: 'launch.refused', detail: { reason }, ip: kit.ip(req) });
      res
        .status(403)
        .type('html')
        .send(kit.pages.render('signin-refused.njk', { t, lang, title: t('launch.refused_title'), text: t(`launch.refused.${reason}`) }));
    };
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const check = verifyLaunchToken(settings.secret, token, Math.floor(clock.now().getTime() / 1000));
    if (!check.ok) return refuse(check.reason, null);
    if (!(await parts.nonces.consume(check.nonce, check.borrowernumber, check.expires))) return refuse('used', check.borrowernumber);
    const account = await reader.staffAccount(check.borrowernumber);
    if (!account || !hasStaffAccess(account.flags)) return refuse('not_staff', check.borrowernumber);
    // Koha passes the language its staff interface shows, so the frame matches the page around it.
    await startSession(
      req,
      res,
      account.borrowernumber,
      'launch',
      typeof req.query.lang === 'string' ? pickPageLang(req.query.lang) : pickPageLang(account.lang),
    );
    await kit.audit.record({ borrowernumber: account.borrowernumber, action: 'signin', detail: { via: 'launch' }, ip: kit.ip(req) });
    res.redirect(303, safeNextPath(req.query.next));
  });

  return router;
}

/** Routes for a signed-in staff member: sign out, change the language of the pages. */
export function sessionRoutes(kit: PageKit, parts: AuthParts): express.Router {
  const router = express.Router();
  router.post('/signout', async (req, res) => {
    const staff = kit.staff(res);
    await parts.sessions.destroy(staff.session.idHash);
    await kit.audit.record({ borrowernumber: staff.account.borrowernumber, action: 'signout', ip: kit.ip(req) });
    res.clearCookie(parts.cookie.name, parts.cookie.options);
    res.redirect(303, '/signin?out=1');
  });
  router.post('/lang', async (req, res) => {
    const staff = kit.staff(res);
    const { lang, back } = formOf(req);
    if (isPageLang(lang)) await parts.sessions.setLang(staff.session.idHash, lang);
    res.redirect(303, safeNextPath(back));
  });
  return router;
}
