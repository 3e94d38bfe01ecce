/**
 * What every staff page is built with: its dependencies, the signed-in staff
 * member of the request, rendering with the message catalogue, permission
 * checks and the audit record. Pages are modules (see StaffPage) so later
 * pages plug in the same way.
 */
import path from 'node:path';
import type express from 'express';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import nunjucks from 'nunjucks';
import type { Knex } from 'knex';
import type { Settings } from '../config';
import type { HostReader, StaffAccount, StaffReader } from '../host';
import type { MessageStore } from '../queue';
import type { Logger } from '../logging';
import type { Clock, NoticeDeps } from '../notices';
import type { ChannelAdapter, ChannelName } from '../channels/contract';
import type { AuditLog } from './audit';
import type { Session } from './auth/sessions';
import type { Permission } from './auth/permissions';
import { translator, type MessageKey, type PageLang, type Translate } from './i18n';

export const PAGE_TEMPLATE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'pages');

export interface WebDeps {
  knex: Knex;
  store: MessageStore;
  host: HostReader;
  logger: Logger;
  clock?: Clock;
  /** Settings the pages need; the defaults suit a test on loopback. */
  settings?: Pick<
    Settings,
    | 'secret'
    | 'publicUrl'
    | 'timezone'
    | 'kohaStaffOrigins'
    | 'sessionIdleMinutes'
    | 'sessionMaxHours'
    | 'defaultCountry'
    | 'pluginClass'
    | 'retentionDays'
    | 'mailFrom'
  > &
    Partial<Pick<Settings, 'trustProxy'>>;
  /** What a run of a routine needs (generators, renderer, rules); without it routines cannot be run from the pages. */
  notices?: NoticeDeps;
  staff?: StaffReader;
  /** The channel adapters, for the settings page's test buttons (one e-mail, one SMS); without them the buttons say so. */
  channels?: Partial<Record<ChannelName, ChannelAdapter>>;
  /** Extra pages, e.g. the demo's captured mail (behind the sign-in). */
  extend?: (app: express.Express, pages: nunjucks.Environment) => void;
  /**
   * Routers of other capabilities: `public` ones need no sign-in (e.g. the
   * patrons' verification page); `api` ones are mounted under /api, behind
   * the sign-in and the CSRF check.
   */
  routers?: { public?: Array<(pages: nunjucks.Environment) => express.Router>; api?: express.Router[] };
}

/** The staff member behind a request, once signed in. */
export interface StaffContext {
  session: Session;
  account: StaffAccount;
  permissions: Set<Permission>;
  lang: PageLang;
  t: Translate;
}

export interface NavEntry {
  id: string;
  path: string;
  label: MessageKey;
  permission: Permission;
  /** Lower comes first. */
  order: number;
  /** Other paths that belong under this tab (a routine's runs under Routines). */
  also?: string[];
}

export interface RenderOptions {
  status?: number;
}

export interface PageKit {
  deps: Required<Pick<WebDeps, 'clock' | 'settings' | 'staff'>> & WebDeps;
  audit: AuditLog;
  pages: nunjucks.Environment;
  /** Renders a page template with the catalogue, the navigation and the CSRF token of the request. */
  render(req: Request, res: Response, template: string, ctx: Record<string, unknown>, opts?: RenderOptions): void;
  /** Answers 403 with a page, unless the signed-in staff member has the permission. */
  requirePermission(p: Permission): RequestHandler;
  /** The staff member of a request that passed sign-in. */
  staff(res: Response): StaffContext;
  /** The client's address as the socket (or a trusted proxy) says. */
  ip(req: Request): string | null;
  /** A page saying what went wrong, in the staff member's language. */
  fail(req: Request, res: Response, status: number, text: MessageKey, params?: Record<string, unknown>): void;
}

export interface StaffPage {
  nav?: NavEntry[];
  mount(router: express.Router, kit: PageKit): void;
}

export function staffOf(res: Response): StaffContext | null {
  return (res.locals.kmcStaff as StaffContext | undefined) ?? null;
}

/** Express 5 passes rejected promises on; this only narrows the types. */
export type Handler = (req: Request, res: Response, next: NextFunction) => Promise<void> | void;

/** A number from a path or query, or null when it is not a positive whole number. */
export function idParam(value: unknown): number | null {
  if (typeof value !== 'string' || !/^[1-9]\d{0,15}$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/** Form fields that may come once or many times, as a list of strings. */
export function listParam(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function textParam(value: unknown, max = 200): string {
  return typeof value === 'string' ? value.trim().slice(0, max) : '';
}

export function publicTranslator(lang: PageLang): Translate {
  return translator(lang);
}
