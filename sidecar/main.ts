/**
 * The composition root: the one place where settings, the database, the
 * host reader, the stores, the channels, the worker, the jobs and the web
 * app are built, each once. Everything else receives its dependencies from
 * here; `start()` and `stop()` run the jobs and take them down in order.
 *
 * Commands build the root and use what they need: only `start()` starts
 * jobs, so a command that does not call it runs none.
 */
import path from 'node:path';
import type express from 'express';
import type { Knex } from 'knex';
import type nunjucks from 'nunjucks';
import { dkimKeyOf, type Settings } from './config';
import { createKnex, migrationStatus } from './db';
import { UnavailableError } from './errors';
import { cachedPreference, createHostReader, createStaffReader, type HostReader, type StaffReader } from './host';
import { ClosedDays, MessageStore, QueueActions, QuietHours, releaseQuietHours } from './queue';
import { RunStore } from './runs';
import { createRuleStore, loadRulesOwnBranchOnly, type RuleStore } from './rules';
import { NoticeRenderer, TemplateStore } from './rendering';
import { createLogger, type Logger } from './logging';
import { NoticeRecheck, RunApproval, resentContent, runNotices, systemClock, type Clock, type NoticeDeps, type RunResult } from './notices';
import {
  SmtpAdapter,
  SmtpTransports,
  PrintAdapter,
  SmsRouter,
  type ChannelAdapter,
  type ChannelName,
  type SmsAvailability,
} from './channels';
import type { DeliveryWorker, ReceiptTally, RetryPolicy } from './delivery';
import {
  VerificationService,
  VerificationRateLimiter,
  VerificationStore,
  startVerificationSchedule,
  type VerificationSchedule,
} from './verification';
import { RoutineEditor, RoutineStore, Scheduler } from './scheduling';
import { BranchSettingsStore } from './branches';
import type { AuditLog } from './staff';
import type { HealthReport } from './web';
import { SettingsStore } from './settings';
import { AddressStateStore, gateWithAddressStates } from './address-states';
import type { BounceIntake, BounceListener, BounceMailboxSchedule } from './bounces';
import type { LetterPdfThread } from './letters';

/*
 * What only some commands use is loaded when first used, not with the root: the delivery worker, returned mail,
 * the letters' PDFs, the nightly anonymiser and the staff's audit and sign-in. A notice run, which uses none of
 * them, starts without loading them; the root is still the one place that builds them, each once.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, as said above */
const load = {
  delivery: () => require('./delivery') as typeof import('./delivery'),
  bounces: () => require('./bounces') as typeof import('./bounces'),
  letters: () => require('./letters') as typeof import('./letters'),
  archive: () => require('./archive') as typeof import('./archive'),
  staff: () => require('./staff') as typeof import('./staff'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The jobs `start()` can run; each is on unless the options turn it off. */
export const JOBS = ['delivery', 'routines', 'verificationScan', 'anonymiser'] as const;
export type JobName = (typeof JOBS)[number];

export interface App {
  settings: Settings;
  knex: Knex;
  host: HostReader;
  /** Koha's staff logins, permissions and lists (branches, categories, item types). */
  staff: StaffReader;
  store: MessageStore;
  rules: RuleStore;
  renderer: NoticeRenderer;
  logger: Logger;
  clock: Clock;
  adapters: Partial<Record<ChannelName, ChannelAdapter>>;
  /** The SMS channel when KMC_SMPP_URL is set: routes each message to its branch's account. */
  sms: SmsRouter | null;
  /** The SMS delivery receipts this process took and their storing (kmc deliver --once waits for them). */
  receipts: ReceiptTally;
  /** Which branches can send SMS now (read once per run): SMS is "not set up" for the others. */
  smsAvailability(): Promise<SmsAvailability>;
  notices: NoticeDeps;
  worker: DeliveryWorker;
  /** E-mail verification: the scan, the gate the generators ask, links and staff confirmation. */
  verification: VerificationService;
  /** Slows down guessing on the public /verify page. */
  verificationLimiter: VerificationRateLimiter;
  routines: RoutineStore;
  /** The run log of every notice run and nightly job. */
  runs: RunStore;
  /** Fires the routines at their times (and releases SMS after quiet hours every minute); a job of start(). */
  scheduler: Scheduler<RunResult>;
  /** Settings per branch (sender, letter address, SMS account, quiet hours). */
  branches: BranchSettingsStore;
  /** Staff-edited notice templates. */
  templates: TemplateStore;
  /** Who did what on the staff pages. */
  audit: AuditLog;
  /** What bounces did to patrons' e-mail addresses. */
  addressStates: AddressStateStore;
  /** Takes a returned message (from the listener, the mailbox or `kmc bounces process`) and applies what it says. */
  bounces: BounceIntake;
  /** The bounce listener once start() started it (KMC_BOUNCE_LISTEN), else null. */
  bounceListener(): BounceListener | null;
  /** The bounce mailbox's polls once start() started them (KMC_BOUNCE_IMAP_URL), else null. */
  bounceMailbox(): BounceMailboxSchedule | null;
  /** The staff pages, the public verification page and the JSON API, built on first use. */
  readonly web: express.Express;
  /** Whether the database is reachable and the sidecar's tables are current (for /healthz). */
  health(): Promise<HealthReport>;
  /** Starts the channels; start() does it, `kmc deliver --once` does it alone. */
  startChannels(): Promise<void>;
  /**
   * Checks the tables are current, starts the channels and the jobs the
   * options leave on: delivery (which also releases SMS after quiet hours
   * before each batch), the routines' scheduler, the verification scan and
   * the nightly anonymiser.
   */
  start(): Promise<void>;
  /** Stops the jobs, drains the worker, closes the channels, then the database (if the root opened it). */
  stop(): Promise<void>;
  /** The same as stop(), for commands that never started. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** A database handle the caller owns (tests share one); without it the root opens and closes its own. */
  knex?: Knex;
  /** Replace or add channel adapters (e.g. SMS once an SMSC is set up). */
  adapters?: Partial<Record<ChannelName, ChannelAdapter>>;
  retryPolicy?: RetryPolicy;
  workerId?: string;
  leaseMs?: number;
  /** How often the delivery job runs (default 15 s). */
  deliverEveryMs?: number;
  /** How often the verification scan runs (default 5 minutes; 0 = only by `kmc verification scan`). */
  verifyEveryMs?: number;
  /** Jobs start() leaves off (tests and the demo run routines and the anonymiser by hand). */
  jobs?: Partial<Record<JobName, boolean>>;
  /** Extra pages, e.g. the demo's captured mail (behind the sign-in). */
  extend?: (app: express.Express, pages: nunjucks.Environment) => void;
}

export function createApp(settings: Settings, opts: AppOptions = {}): App {
  const logger = opts.logger ?? createLogger(settings.logLevel);
  const clock = opts.clock ?? systemClock;
  const ownsKnex = !opts.knex;
  // knex's own warnings (a failed connection, with its stack) go to the log on stderr, at warn.
  const databaseLog = {
    warn: (message: string) => {
      logger.warn('database_warning', { message });
    },
  };
  const knex = opts.knex ?? createKnex(settings.databaseUrl, { log: databaseLog });
  const staffSettings = new SettingsStore(knex);
  const host = createHostReader(knex, { seen: staffSettings, withoutPlugin: settings.withoutPlugin, now: () => clock.now() });
  const staff = createStaffReader(knex);
  // Outcome groups of the delivery worker go to the server in one round trip each, on connections of their own
  // (only the queue's outcome writes use them); opened on the first outcome.
  const outcomesKnex = ownsKnex ? createKnex(settings.databaseUrl, { poolMax: 2, multipleStatements: true, log: databaseLog }) : undefined;
  const store = new MessageStore(knex, outcomesKnex);
  const rules = createRuleStore(knex);
  const branches = new BranchSettingsStore(knex);
  const branchMail = (branchcode: string | null | undefined) => (branchcode ? branches.mail(branchcode) : Promise.resolve(null));
  const templates = new TemplateStore(knex);
  const renderer = new NoticeRenderer({ templates });
  const routines = new RoutineStore(knex);
  const runs = new RunStore(knex, (ids) => routines.names(ids));
  const quietHours = () => QuietHours.load(branches, settings.timezone);
  // The branches' closed-day holds with Koha's calendar, read when asked (each run, each release).
  const closedDays = () => ClosedDays.load(branches, () => host.calendars(), settings.timezone);
  let receipts: ReceiptTally | null = null;
  const receiptTally = () => (receipts ??= new (load.delivery().ReceiptTally)());
  // Set once the queue's actions exist (below); a receipt cannot arrive before the channels start.
  let smsBounced: (messageId: number) => Promise<void> = async () => {};
  const sms = settings.smppUrl
    ? new SmsRouter({
        defaultUrl: settings.smppUrl,
        defaultSender: settings.sms.sender,
        client: {
          bindMode: settings.sms.bindMode,
          windowSize: settings.sms.windowSize,
          pduTimeoutMs: settings.sms.pduTimeoutMs,
          enquireLinkMs: settings.sms.enquireLinkMs,
          tls: settings.sms.tls,
          ...(settings.sms.caFile ? { ca: settings.sms.caFile } : {}),
        },
        accounts: branches,
        logger,
        onReceipt: (receipt) => {
          const recorded = store.recordReceipt(receipt, clock.now()).then(async (outcome) => {
            logger.info('sms.receipt', {
              providerId: receipt.providerId,
              account: receipt.account,
              stat: receipt.stat,
              result: outcome.result,
              messageId: outcome.messageId,
            });
            // An SMS the phone never got is replaced by the next channel its rule allows, as a bounced e-mail is.
            if (outcome.status === 'bounced' && outcome.messageId !== null) await smsBounced(outcome.messageId);
          });
          receiptTally().track(recorded);
          return recorded;
        },
      })
    : null;
  // The print folder's PDFs are rendered off the main thread, which sends and serves meanwhile.
  let letterPdfs: LetterPdfThread | null = null;
  const letterPdfThread = () => (letterPdfs ??= new (load.letters().LetterPdfThread)());
  const adapters: Partial<Record<ChannelName, ChannelAdapter>> = {
    email: new SmtpAdapter({
      url: settings.smtpUrl,
      dkim: settings.dkim,
      // Koha's own SMTP servers, where it names one for a branch or a default; KMC_SMTP_URL otherwise.
      servers: new SmtpTransports({ koha: host }),
      // Each e-mail's own return path (VERP), so its bounce names it: at the branch's bounce domain, else the global one.
      returnPath: async (m) =>
        load.bounces().returnPathFor(m, {
          secret: settings.secret,
          bounceDomain: (await branchMail(m.branchcode))?.bounceDomain ?? settings.bounces.domain ?? undefined,
        }),
      // A branch's own DKIM key (its settings page), before those of KMC_DKIM_KEYS.
      branchDkim: async (m) => {
        const mail = await branchMail(m.branchcode);
        if (!mail?.dkim) return null;
        const made = dkimKeyOf(mail.dkim.domain, mail.dkim.selector, mail.dkim.privateKey, `the settings of branch ${mail.branchcode}`);
        if (!made.key) logger.warn('email.branch_dkim_unusable', { branchcode: mail.branchcode, problem: made.problem });
        return made.key;
      },
      // Koha's NoticeBcc: a copy of every e-mail notice, as Koha's own mailer adds it.
      bcc: cachedPreference(host, 'NoticeBcc'),
    }),
    ...(sms ? { sms } : {}),
    print: new PrintAdapter({
      dir: path.resolve(settings.printDir),
      timeZone: settings.timezone,
      now: () => clock.now(),
      // The print folder's PDF of a run's letters at one branch, each letter in its patron's language.
      render: async (ids) => {
        const { lettersOfMessages, letterText } = load.letters();
        const letters = await lettersOfMessages({ host, notices }, await store.lettersByIds(ids));
        const lang = letters[0]?.lang ?? 'en';
        return letterPdfThread().render(letters, { title: letterText(lang, 'title'), lang, country: settings.defaultCountry });
      },
      onWriteError: (file, err) => {
        logger.error('print.pdf_failed', { file, error: err.message });
      },
    }),
    ...opts.adapters,
  };
  const notices: NoticeDeps = {
    host,
    branches,
    staffSettings,
    store,
    runs,
    rules,
    renderer,
    logger,
    clock,
    settings,
    availableChannels: Object.keys(adapters) as ChannelName[],
  };
  // SMS go only from branches that have an account; the generators ask once per run.
  if (adapters.sms instanceof SmsRouter) notices.smsAvailability = () => (adapters.sms as SmsRouter).availability();
  const verificationRecords = new VerificationStore(knex);
  const verification = new VerificationService({
    records: verificationRecords,
    staffSettings,
    branches,
    host,
    store,
    rules,
    renderer,
    logger,
    clock,
    settings,
    availableChannels: notices.availableChannels,
    smsAvailability: notices.smsAvailability,
  });
  const addressStates = new AddressStateStore(knex, { count: settings.bounces.softCount, windowDays: settings.bounces.softWindowDays });
  // No notice goes to an address the patron has not confirmed, nor to one that bounced: the generators ask this gate.
  notices.emailGate = gateWithAddressStates(verification.gate, addressStates);
  // What staff do on the pages: approve runs, edit routines, deal with the queue (placed by the same rule as generation).
  const approval = new RunApproval(notices);
  const recheck = new NoticeRecheck(notices);
  const routineEditor = new RoutineEditor(routines);
  const queueActions = new QueueActions({
    store,
    host,
    clock,
    defaultCountry: settings.defaultCountry,
    quietHours,
    closedDays,
    emailGate: notices.emailGate,
    renderFor: (message, channel) => resentContent(notices, message, channel),
    ruleChannels: async (message) => (message.rule_id ? ((await rules.get(message.rule_id))?.channels ?? []) : []),
    loansOut: (issueIds) => host.loansOut(issueIds),
  });
  const verificationLimiter = new VerificationRateLimiter({ store: verificationRecords, secret: settings.secret, clock });
  let worker: DeliveryWorker | null = null;
  const newDeliveryWorker = () => {
    const { DeliveryWorker, SendCountStore, SendingPace } = load.delivery();
    return new DeliveryWorker({
      store,
      host,
      adapters,
      logger,
      clock,
      pluginClass: settings.pluginClass,
      retryPolicy: opts.retryPolicy ?? settings.delivery.retry,
      workerId: opts.workerId,
      leaseMs: opts.leaseMs ?? settings.delivery.leaseMs,
      batchSize: settings.delivery.batchSize,
      // Counted in kmc_send_counts too, so that workers sharing the queue, and a restart, keep within each limit.
      pace: new SendingPace(settings.limits, new SendCountStore(knex)),
      // SMS held for quiet hours that are over go back in the queue before each batch.
      beforeBatch: (now) => releaseQuietHours({ store, quietHours, closedDays, clock: { now: () => now }, logger }, 'delivery'),
      // Never stale: what Koha moved on from since a notice was made is dropped from it, or cancels it.
      recheck: async (batch, workerId) => {
        const checked = await recheck.settle(batch, { actor: workerId, claimedBy: workerId });
        return { send: checked.kept, cancelled: checked.cancelled.length };
      },
    });
  };
  const deliveryWorker = () => (worker ??= newDeliveryWorker());
  smsBounced = async (messageId) => {
    const replaced = await queueActions.replaceBounced(messageId, 'smsc');
    logger.info('sms.bounce_replacement', { messageId, ...replaced });
    if (replaced.outcome === 'replaced') worker?.poke();
  };
  let bounces: BounceIntake | null = null;
  const bounceIntake = () =>
    (bounces ??= new (load.bounces().BounceIntake)({
      secrets: [settings.secret],
      messages: store,
      addresses: addressStates,
      replace: async (id, actor) => {
        const replaced = await queueActions.replaceBounced(id, actor);
        if (replaced.outcome === 'replaced') worker?.poke();
        return replaced;
      },
      clock,
      logger,
    }));
  const scheduler = new Scheduler({
    run: (req) => runNotices(notices, req),
    runs,
    releaseQuietHours: (actor) => releaseQuietHours({ store, quietHours, closedDays, clock, logger }, actor),
    routines,
    logger,
    clock,
    timezone: settings.timezone,
    onMessages: () => {
      worker?.poke();
    },
  });
  const noSms: SmsAvailability = { canSend: () => false, whyNot: () => 'SMS is not set up (KMC_SMPP_URL)' };
  let audit: AuditLog | null = null;
  const auditLog = () => (audit ??= new (load.staff().AuditLog)(knex, clock, logger));
  const jobOn = (job: JobName) => opts.jobs?.[job] !== false;

  const health = async (): Promise<HealthReport> => {
    try {
      await knex.raw('SELECT 1');
      const migrations = await migrationStatus(knex);
      return { ok: migrations.current, database: 'reachable', migrations };
    } catch (err) {
      return { ok: false, database: 'unreachable', error: err instanceof Error ? err.message : String(err) };
    }
  };

  let web: express.Express | null = null;
  let channelsStarted = false;
  let verificationSchedule: VerificationSchedule | null = null;
  let anonymiser: { stop(): void } | null = null;
  let bounceListener: BounceListener | null = null;
  let bounceMailbox: BounceMailboxSchedule | null = null;
  let stopping: Promise<void> | null = null;

  const app: App = {
    settings,
    knex,
    host,
    staff,
    store,
    rules,
    renderer,
    logger,
    clock,
    adapters,
    notices,
    get worker() {
      return deliveryWorker();
    },
    verification,
    verificationLimiter,
    routines,
    runs,
    scheduler,
    branches,
    templates,
    get audit() {
      return auditLog();
    },
    addressStates,
    get bounces() {
      return bounceIntake();
    },
    bounceListener: () => bounceListener,
    bounceMailbox: () => bounceMailbox,
    sms: adapters.sms instanceof SmsRouter ? adapters.sms : null,
    get receipts() {
      return receiptTally();
    },
    smsAvailability: () => (adapters.sms instanceof SmsRouter ? adapters.sms.availability() : Promise.resolve(noSms)),
    get web() {
      // The web app's code (express, the page templates, sign-in) is loaded here, on first use, so commands that
      // show no page never load it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, as said above
      const { createWebApp } = require('./web') as typeof import('./web');
      const { SessionStore, NonceStore, SigninThrottle } = load.staff();
      web ??= createWebApp({
        settings,
        clock,
        logger,
        host,
        staff,
        store,
        rules,
        rulesOwnBranchOnly: () => loadRulesOwnBranchOnly(staffSettings),
        branches,
        librarySettings: staffSettings,
        routines,
        routineEditor,
        runs,
        approval,
        queueActions,
        templates,
        audit: auditLog(),
        addressStates,
        auth: {
          sessions: new SessionStore(knex, clock, { idleMinutes: settings.sessionIdleMinutes, maxHours: settings.sessionMaxHours }),
          nonces: new NonceStore(knex, clock),
          throttle: new SigninThrottle(knex, clock),
        },
        notices,
        letterPdfs: letterPdfThread(),
        channels: adapters,
        verification: { service: verification, limiter: verificationLimiter },
        health,
        extend: opts.extend,
      });
      return web;
    },
    health,
    async startChannels() {
      if (channelsStarted) return;
      // Marked first: if one channel fails to start, stop() still stops those that did.
      channelsStarted = true;
      for (const a of Object.values(adapters)) await a.start();
    },
    async start() {
      const status = await migrationStatus(knex);
      if (!status.current) {
        throw new UnavailableError(
          'KMC_MIGRATIONS_PENDING',
          `the sidecar's tables are not up to date (pending: ${status.pending.join(', ') || 'none'}); run kmc migrate`,
        );
      }
      // A bad verification setting stops the start, with the setting's name, rather than every scan failing quietly.
      if (jobOn('verificationScan'))
        verificationSchedule = await startVerificationSchedule({ verification, logger }, { everyMs: opts.verifyEveryMs });
      await app.startChannels();
      if (jobOn('delivery')) deliveryWorker().start(opts.deliverEveryMs ?? 15_000);
      if (jobOn('routines')) await scheduler.start();
      // Messages past the retention period lose their contact data and text at night.
      if (jobOn('anonymiser')) anonymiser = load.archive().startNightlyAnonymiser({ store, runs, clock, logger, settings });
      // Returned mail: the listener for the bounce domain and the bounce mailbox, each only when its setting is given.
      const b = settings.bounces;
      if (b.listen && b.domain)
        bounceListener = await load.bounces().startBounceListener({
          host: b.listen.host,
          port: b.listen.port,
          domains: [b.domain],
          maxBytes: b.maxBytes,
          logger,
          onMessage: async (raw, envelope) => {
            await bounceIntake().take(raw, { envelopeTo: envelope.rcptTo, actor: 'bounce listener' });
          },
        });
      if (b.imap)
        bounceMailbox = load.bounces().startBounceMailboxSchedule({
          host: b.imap.host,
          port: b.imap.port,
          secure: b.imap.secure,
          user: b.imap.user,
          password: b.imap.password,
          mailbox: b.imap.mailbox,
          processedMailbox: b.imap.processedMailbox ?? undefined,
          maxBytes: b.maxBytes,
          everyMs: b.imap.everyMs,
          logger,
          onMessage: async (raw) => {
            const { kind } = await bounceIntake().take(raw, { actor: 'bounce mailbox' });
            return { kind };
          },
        });
    },
    stop() {
      stopping ??= (async () => {
        // 1. the jobs: no new runs, scans, nightly work or returned mail
        anonymiser?.stop();
        await bounceListener?.stop();
        await bounceMailbox?.stop();
        await verificationSchedule?.stop();
        await scheduler.stop();
        // 2. the worker: claims nothing more, finishes what is in flight
        await worker?.stop();
        // 3. the channels, then 4. the database
        if (channelsStarted) for (const a of Object.values(adapters)) await a.stop();
        await letterPdfs?.close();
        if (ownsKnex) await knex.destroy();
        await outcomesKnex?.destroy();
      })();
      return stopping;
    },
    close() {
      return app.stop();
    },
  };
  return app;
}
