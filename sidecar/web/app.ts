/**
 * The staff pages and JSON API. Pages are rendered on the server from the
 * trusted templates in templates/pages, with autoescape on, every word from
 * the message catalogue, and sit behind the staff sign-in: a launch token
 * from the Koha plugin or a Koha user name and password.
 *
 * Order matters: security headers, static assets, /healthz and the public
 * routers (e-mail verification) come before the sign-in; everything after
 * needs a signed-in staff member, and every state-changing request after it
 * must carry the session's CSRF token.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type NextFunction } from 'express';
import cookieParser from 'cookie-parser';
import nunjucks from 'nunjucks';
import { KmcError, UnauthenticatedError } from '../errors';
import { cachedPreference } from '../host';
import { asKohaDateFormat, asKohaTimeFormat, formatKohaDate, formatKohaTime, type KohaDateFormat, type KohaTimeFormat } from '../rendering';
import { authRoutes, createAuthParts, csrfGuard, loadStaff, requireSignIn, sessionRoutes } from './auth';
import { PAGE_LANGS, translator, isMessageKey, type MessageKey } from './i18n';
import {
  actorWords,
  auditActionWords,
  auditDetailWords,
  auditObjectWords,
  jobWords,
  reasonWords,
  routineNameWords,
  scheduleWords,
} from './words';
import { PAGE_TEMPLATE_DIR, staffOf, type NavEntry, type PageKit, type StaffPage, type WebDeps } from './kit';
import { routinePages } from './pages/routines';
import { runPages } from './pages/runs';
import { archivePages } from './pages/archive';
import { patronPages } from './pages/patron';
import { queuePages } from './pages/queue';
import { letterPages } from './pages/letters';
import { auditPages } from './pages/audit';
import { rulePages } from './pages/rules';
import { templatePages } from './pages/templates';
import { settingsPages } from './pages/settings';
import { dashboardPages } from './pages/dashboard';
import { verificationApi, verificationPages } from './verification';
import { staffMessageApi } from './staff-messages';
import { apiErrorHandler, errorBody, httpStatusOf, logRequestError } from './errors';

export { PAGE_TEMPLATE_DIR } from './kit';
export type { WebDeps, WebSettings, AuthStores, HealthReport, StaffPage, PageKit, NavEntry, StaffContext } from './kit';
export { httpStatusOf, errorBody, apiErrorHandler } from './errors';
export { verificationPages, verificationApi, type VerificationWebDeps } from './verification';
export { staffMessageApi, type StaffMessageApiDeps } from './staff-messages';

export const ASSET_DIR = path.resolve(__dirname, 'assets');

/** The pages of this part of the staff interface; later parts add theirs to this list. */
export const STAFF_PAGES: StaffPage[] = [
  routinePages,
  runPages,
  archivePages,
  queuePages,
  letterPages,
  patronPages,
  auditPages,
  rulePages,
  templatePages,
  settingsPages,
  dashboardPages,
];

/** How the staff pages show dates and times: Koha's `dateformat` and `TimeFormat`, read from Koha now and then. */
export interface PageFormats {
  date: KohaDateFormat;
  time: KohaTimeFormat;
}

/**
 * Local time in the library's zone, from the sidecar's UTC DATETIME strings, in Koha's date and time formats
 * (`formats` is read at each call, so the pages follow a change in Koha).
 */
export function localTimeFormatter(
  timeZone: string,
  formats: PageFormats = { date: 'iso', time: '24hr' },
): (v: string | null | undefined) => string {
  const fmt = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return (v) => {
    if (!v) return '';
    const d = new Date(v.replace(' ', 'T') + (v.endsWith('Z') ? '' : 'Z'));
    if (Number.isNaN(d.getTime())) return v;
    // sv-SE gives the wall clock as "YYYY-MM-DD HH:MM": the shape Koha's formatters read.
    const wall = fmt.format(d);
    return `${formatKohaDate(wall, formats.date)} ${formatKohaTime(wall, formats.time)}`;
  };
}

export function createPageEnvironment(
  timeZone = 'Europe/Stockholm',
  formats: PageFormats = { date: 'iso', time: '24hr' },
): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGE_TEMPLATE_DIR, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('when', (v: string | null) => (v ? v.replace(/\.\d{3}$/, '') + ' UTC' : ''));
  env.addFilter('localtime', localTimeFormatter(timeZone, formats));
  return env;
}

/**
 * Hashes of the static <style> blocks in the page templates, for the CSP:
 * those blocks may stay inline, and no other inline style can run.
 */
export function inlineStyleHashes(dir = PAGE_TEMPLATE_DIR): string[] {
  const hashes = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.njk'))) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/<style>([\s\S]*?)<\/style>/g)) {
      if (/\{[{%#]/.test(m[1])) continue;
      hashes.add(`'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`);
    }
  }
  return [...hashes].sort();
}

export function contentSecurityPolicy(kohaStaffOrigins: string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' ${inlineStyleHashes().join(' ')}`.trim(),
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors 'self'${kohaStaffOrigins.map((o) => ` ${o}`).join('')}`,
  ].join('; ');
}

/** The web app over what the composition root built (sidecar/main.ts); it builds no service of its own. */
export function createWebApp(deps: WebDeps): express.Express {
  const app = express();
  // Koha's dateformat and TimeFormat for every time a page shows, read again at most once a minute.
  const formats: PageFormats = { date: 'iso', time: '24hr' };
  const dateFormat = cachedPreference(deps.host, 'dateformat');
  const timeFormat = cachedPreference(deps.host, 'TimeFormat');
  const pages = createPageEnvironment(deps.settings.timezone, formats);
  const audit = deps.audit;
  const csp = contentSecurityPolicy(deps.settings.kohaStaffOrigins);
  const nav: NavEntry[] = STAFF_PAGES.flatMap((p) => p.nav ?? []).sort((a, b) => a.order - b.order);

  const kit: PageKit = {
    deps,
    audit,
    pages,
    staff(res) {
      const staff = staffOf(res);
      if (!staff) throw new UnauthenticatedError('KMC_SIGN_IN_REQUIRED', 'this page needs a signed-in staff member');
      return staff;
    },
    ip(req) {
      return req.ip ?? req.socket.remoteAddress ?? null;
    },
    render(req, res, template, ctx, opts = {}) {
      const staff = staffOf(res);
      const t = staff?.t ?? translator('en');
      const here = req.path;
      const done = isMessageKey(req.query.done) ? req.query.done : null;
      const html = pages.render(template, {
        t,
        lang: staff?.lang ?? 'en',
        otherLangs: PAGE_LANGS.filter((l) => l !== (staff?.lang ?? 'en')),
        staff: staff?.account ?? null,
        staffName: staff ? [staff.account.firstname, staff.account.surname].filter(Boolean).join(' ') || staff.account.userid : '',
        csrf: staff?.session.csrfToken ?? '',
        can: (p: string) => !!staff?.permissions.has(p as never),
        nav: nav
          .filter((n) => staff?.permissions.has(n.permission))
          .map((n) => ({ ...n, active: [n.path, ...(n.also ?? [])].some((p) => here === p || here.startsWith(`${p}/`)) })),
        here: req.originalUrl,
        notice: done ? { kind: 'success', text: t(done, { n: typeof req.query.n === 'string' ? req.query.n.slice(0, 12) : '' }) } : null,
        // What the sidecar recorded, in the staff member's words (words.ts); `actorNames` from the page names its staff.
        reason: (r: string | null | undefined) => reasonWords(t, r),
        who: (a: string | null | undefined) => actorWords(t, a, (ctx.actorNames as Record<number, string> | undefined) ?? {}),
        routineName: (n: string | null | undefined) => routineNameWords(t, n),
        scheduleText: (c: string | null | undefined) => scheduleWords(t, staff?.lang ?? 'en', c),
        jobName: (j: string | null | undefined, type?: string | null) => jobWords(t, j, type),
        auditAction: (a: string) => auditActionWords(t, a),
        auditObject: (type: string | null, id: string | number | null) => auditObjectWords(t, type, id),
        auditDetail: (a: string, d: string | null) => auditDetailWords(t, a, d),
        ...ctx,
      });
      res
        .status(opts.status ?? 200)
        .type('html')
        .send(html);
    },
    requirePermission(p) {
      return (req: Request, res: Response, next: NextFunction) => {
        const staff = staffOf(res);
        if (staff?.permissions.has(p)) {
          next();
          return;
        }
        deps.logger.info('web.forbidden', { staff: staff?.account.borrowernumber ?? null, permission: p, path: req.path });
        if (req.path.startsWith('/api/') || req.baseUrl.startsWith('/api')) {
          res.status(403).json({ error: 'KMC_FORBIDDEN', message: `this needs the ${p} permission` });
          return;
        }
        kit.fail(req, res, 403, 'error.forbidden');
      };
    },
    fail(req, res, status, text, params) {
      const t = staffOf(res)?.t ?? translator('en');
      kit.render(
        req,
        res,
        'staff-error.njk',
        {
          title: t(status === 403 ? 'error.forbidden_title' : status === 404 ? 'error.not_found_title' : 'error.title'),
          text: t(text, params),
        },
        { status },
      );
    },
  };

  app.disable('x-powered-by');
  if (deps.settings.trustProxy !== undefined && deps.settings.trustProxy !== false) app.set('trust proxy', deps.settings.trustProxy);
  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  app.use('/assets', express.static(ASSET_DIR, { maxAge: '1h', index: false, fallthrough: false }));

  app.get('/healthz', async (_req, res) => {
    const health = await deps.health();
    res.status(health.ok ? 200 : 503).json(health);
  });

  app.use(cookieParser());
  app.use(express.urlencoded({ extended: false, limit: '2mb', parameterLimit: 50_000 }));
  app.use(express.json({ limit: '256kb' }));

  // Public: no sign-in (the patrons' verification page).
  const verification = { ...deps.verification, logger: deps.logger };
  app.use(verificationPages(verification, pages));

  app.use(async (_req, _res, next) => {
    try {
      const [date, time] = await Promise.all([dateFormat(), timeFormat()]);
      formats.date = asKohaDateFormat(date);
      formats.time = asKohaTimeFormat(time);
    } catch (err) {
      // Koha's database not answering: the pages keep the formats they had (the page itself will say what is wrong).
      deps.logger.debug('web.formats_unread', { error: (err as Error).message });
    }
    next();
  });

  const parts = createAuthParts(kit);
  app.use(loadStaff(kit, parts));
  app.use(authRoutes(kit, parts));

  // Everything below needs a signed-in staff member, and CSRF tokens on every change.
  app.use(requireSignIn());
  app.use(csrfGuard(kit));
  app.use(sessionRoutes(kit, parts));

  app.get('/', (req, res) => {
    const first = nav.find((n) => kit.staff(res).permissions.has(n.permission));
    if (first) res.redirect(303, first.path);
    else kit.fail(req, res, 403, 'error.no_pages');
  });

  // The first page's message links, kept working.
  app.get('/messages/:id', (req, res) => {
    res.redirect(301, `/archive/${encodeURIComponent(req.params.id)}`);
  });

  const api = express.Router();
  api.get('/messages', kit.requirePermission('patron_messages'), async (req, res) => {
    const borrower = Number(req.query.borrower);
    const list = Number.isInteger(borrower) && borrower > 0 ? await deps.store.forBorrower(borrower) : await deps.store.recent(100);
    const emailVerification = Number.isInteger(borrower) && borrower > 0 ? await deps.verification.service.stateOf(borrower) : undefined;
    res.json({ messages: list, ...(emailVerification ? { emailVerification } : {}) });
  });
  api.use(verificationApi(verification));
  // Messages from staff to one patron: the notice engine decides, this only parses and answers.
  api.use(
    staffMessageApi({
      notices: deps.notices,
      guard: kit.requirePermission('patron_messages'),
      actorOf: (_req, res) => String(kit.staff(res).account.borrowernumber),
    }),
  );
  app.use('/api', api);

  for (const page of STAFF_PAGES) {
    const router = express.Router();
    page.mount(router, kit);
    app.use(router);
  }

  deps.extend?.(app, pages);

  app.use((req: Request, res: Response) => {
    if (req.path.startsWith('/api/')) {
      res.status(404).json({ error: 'KMC_NOT_FOUND', message: 'no such resource' });
      return;
    }
    kit.fail(req, res, 404, 'error.not_found');
  });

  const answerApi = apiErrorHandler(deps.logger);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    // The JSON API, and requests the client got wrong before any route ran (a body that is not JSON), answer in few words.
    const status = httpStatusOf(err);
    if (req.path.startsWith('/api/') || req.baseUrl.startsWith('/api')) {
      answerApi(err, req, res, next);
      return;
    }
    logRequestError(deps.logger, err, req);
    if (res.headersSent) return;
    if (!(err instanceof KmcError) && status < 500) {
      res
        .status(status)
        .type('text')
        .send(status === 404 ? 'Not found' : 'Bad request');
      return;
    }
    const t = staffOf(res)?.t ?? translator('en');
    const page = PAGE_TEXT_OF_STATUS[status] ?? PAGE_TEXT_OF_STATUS[500];
    kit.render(req, res, 'staff-error.njk', { title: t(page.title), text: t(page.text, { reason: errorBody(err).message }) }, { status });
  });
  return app;
}

/** The words of an error page, by status. */
const PAGE_TEXT_OF_STATUS: Record<number, { title: MessageKey; text: MessageKey }> = {
  400: { title: 'error.refused_title', text: 'error.refused' },
  401: { title: 'error.forbidden_title', text: 'error.forbidden' },
  403: { title: 'error.forbidden_title', text: 'error.forbidden' },
  404: { title: 'error.not_found_title', text: 'error.not_found' },
  409: { title: 'error.conflict_title', text: 'error.conflict' },
  503: { title: 'error.unavailable_title', text: 'error.unavailable' },
  500: { title: 'error.title', text: 'error.internal' },
};
