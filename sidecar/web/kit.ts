/**
 * What every staff page is built with: its dependencies, the signed-in staff
 * member of the request, rendering with the message catalogue, permission
 * checks and the audit record. Pages are modules (see StaffPage) so later
 * pages plug in the same way.
 */
import path from 'node:path';
import type express from 'express';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import type nunjucks from 'nunjucks';
import type { Settings } from '../config';
import type { MigrationStatus } from '../db';
import type { Clock, ChannelName } from '../kernel';
import type { HostReader, StaffAccount, StaffReader } from '../host';
import type { MessageStore, QueueActions } from '../queue';
import type { Logger } from '../logging';
import type { NoticeDeps, RunApproval } from '../notices';
import type { ChannelAdapter } from '../channels';
import type { LetterPdfThread } from '../letters';
import type { RuleStore } from '../rules';
import type { TemplateStore } from '../rendering';
import type { BranchSettingsStore } from '../branches';
import type { SettingsStore } from '../settings';
import type { RoutineEditor, RoutineStore } from '../scheduling';
import type { RunStore } from '../runs';
import type { AddressStateStore } from '../address-states';
import type { VerificationRateLimiter, VerificationService } from '../verification';
import type { AuditLog, NonceStore, Session, SessionStore, SigninThrottle } from '../staff';
import type { Permission } from './auth/permissions';
import { translator, type MessageKey, type PageLang, type Translate } from './i18n';

export const PAGE_TEMPLATE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'pages');

/** The settings the pages use. */
export type WebSettings = Pick<
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
  // The SMS sender in force when a branch names none (the settings page says so); absent in tests that need no SMS.
  Partial<Pick<Settings, 'sms'>> &
  Partial<Pick<Settings, 'trustProxy'>>;

/** What /healthz reports. */
export interface HealthReport {
  ok: boolean;
  database: 'reachable' | 'unreachable';
  migrations?: MigrationStatus;
  error?: string;
}

/** The stores of the staff sign-in: sessions, launch-token nonces and failed sign-ins. */
export interface AuthStores {
  sessions: SessionStore;
  nonces: NonceStore;
  throttle: SigninThrottle;
}

/** Everything the web app uses, built by the composition root (sidecar/main.ts); nothing has a default here. */
export interface WebDeps {
  settings: WebSettings;
  clock: Clock;
  logger: Logger;
  host: HostReader;
  staff: StaffReader;
  store: MessageStore;
  rules: RuleStore;
  /** Whether staff may change only their own branch's rules (kmc_settings rules_own_branch_only). */
  rulesOwnBranchOnly(): Promise<boolean>;
  branches: BranchSettingsStore;
  /** The library's settings kept in kmc_settings that staff change on the pages (the branch each notice type speaks for). */
  librarySettings: Pick<SettingsStore, 'values' | 'set'>;
  /** The routines and their schedules. */
  routines: RoutineStore;
  /** Staff's editing of routines (checks, names taken). */
  routineEditor: RoutineEditor;
  /** The run log, and staff's review of a run. */
  runs: RunStore;
  /** Starting a routine by hand and approving a run's messages. */
  approval: RunApproval;
  /** What staff can do about a message in the queue: retry, resend by another channel, cancel, mark handled. */
  queueActions: QueueActions;
  templates: TemplateStore;
  audit: AuditLog;
  /** What bounces did to patrons' e-mail addresses (the patron tab, the dashboard). */
  addressStates: AddressStateStore;
  auth: AuthStores;
  /** What a run of a routine needs (generators, renderer, rules). */
  notices: NoticeDeps;
  /** Renders letters into one PDF off the main thread (the downloads of a run's or the queue's letters). */
  letterPdfs: Pick<LetterPdfThread, 'render'>;
  /** The channel adapters, for the settings page's test buttons (one e-mail, one SMS). */
  channels: Partial<Record<ChannelName, ChannelAdapter>>;
  /** E-mail verification: the public /verify page and the staff API. */
  verification: { service: VerificationService; limiter: VerificationRateLimiter };
  /** Whether the database is reachable and the tables current. */
  health(): Promise<HealthReport>;
  /** Extra pages, e.g. the demo's captured mail (behind the sign-in). */
  extend?: (app: express.Express, pages: nunjucks.Environment) => void;
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
  deps: WebDeps;
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

/** The fields of a posted form or JSON body, or none when there is no object body. */
export function formOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** One cookie of the request, when it is there as text. */
export function cookieOf(req: Request, name: string): string | undefined {
  const cookies: unknown = req.cookies;
  if (typeof cookies !== 'object' || cookies === null) return undefined;
  const value: unknown = (cookies as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

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
