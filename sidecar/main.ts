/**
 * The composition root: the one place where settings, the database, the
 * host reader, the stores, the channels and the worker are wired together.
 * Everything else receives its dependencies from here.
 */
import path from 'node:path';
import type { Knex } from 'knex';
import type { Settings } from './config';
import { createKnex } from './db';
import { createHostReader, type HostReader } from './host';
import { MessageStore, QuietHours, releaseQuietHours } from './queue';
import { RunStore } from './runs';
import { createRuleStore, type RuleStore } from './rules';
import { NoticeRenderer } from './rendering/notices';
import { createLogger, type Logger } from './logging';
import { runNotices, systemClock, type Clock, type NoticeDeps, type RunResult } from './notices';
import {
  SmtpAdapter,
  PrintAdapter,
  SmsRouter,
  branchSettingsSource,
  type ChannelAdapter,
  type ChannelName,
  type SmsAvailability,
} from './channels';
import { DeliveryWorker, type RetryPolicy } from './delivery';
import { VerificationService, VerificationRateLimiter } from './verification';
import { RoutineStore, Scheduler } from './scheduling';

export interface Services {
  settings: Settings;
  knex: Knex;
  host: HostReader;
  store: MessageStore;
  rules: RuleStore;
  renderer: NoticeRenderer;
  logger: Logger;
  clock: Clock;
  adapters: Partial<Record<ChannelName, ChannelAdapter>>;
  /** The SMS channel when KMC_SMPP_URL is set: routes each message to its branch's account. */
  sms: SmsRouter | null;
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
  /** Fires the routines at their times; started by `kmc serve`. */
  scheduler: Scheduler<RunResult>;
  startChannels(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  clock?: Clock;
  knex?: Knex;
  /** Replace or add channel adapters (e.g. SMS once an SMSC is set up). */
  adapters?: Partial<Record<ChannelName, ChannelAdapter>>;
  retryPolicy?: RetryPolicy;
  workerId?: string;
  leaseMs?: number;
}

export function createServices(settings: Settings, opts: ServiceOptions = {}): Services {
  const logger = opts.logger ?? createLogger(settings.logLevel);
  const clock = opts.clock ?? systemClock;
  const ownsKnex = !opts.knex;
  const knex = opts.knex ?? createKnex(settings.databaseUrl);
  const host = createHostReader(knex);
  const store = new MessageStore(knex);
  const rules = createRuleStore(knex);
  const renderer = new NoticeRenderer({ knex });
  const routines = new RoutineStore(knex);
  const runs = new RunStore(knex, (ids) => routines.names(ids));
  const quietHours = () => QuietHours.load(knex, settings.timezone);
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
        accounts: branchSettingsSource(knex),
        logger,
        onReceipt: async (receipt) => {
          const result = await store.recordReceipt(receipt, clock.now());
          logger.info('sms.receipt', { providerId: receipt.providerId, account: receipt.account, stat: receipt.stat, result });
        },
      })
    : null;
  const adapters: Partial<Record<ChannelName, ChannelAdapter>> = {
    email: new SmtpAdapter({ url: settings.smtpUrl }),
    ...(sms ? { sms } : {}),
    print: new PrintAdapter({ dir: path.resolve(settings.printDir), now: () => clock.now() }),
    ...opts.adapters,
  };
  const notices: NoticeDeps = {
    knex,
    host,
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
  const verification = new VerificationService({
    knex,
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
  // No notice goes to an address the patron has not confirmed: the generators ask this gate.
  notices.emailGate = verification.gate;
  const verificationLimiter = new VerificationRateLimiter({ knex, secret: settings.secret, clock });
  const worker = new DeliveryWorker({
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
    // SMS held for quiet hours that are over go back in the queue before each batch.
    beforeBatch: (now) => releaseQuietHours({ store, quietHours, clock: { now: () => now }, logger }, 'delivery'),
  });
  const scheduler = new Scheduler({
    run: (req) => runNotices(notices, req),
    runs,
    releaseQuietHours: (actor) => releaseQuietHours({ store, quietHours, clock, logger }, actor),
    routines,
    logger,
    clock,
    timezone: settings.timezone,
    onMessages: () => worker.poke(),
  });
  const noSms: SmsAvailability = { canSend: () => false, whyNot: () => 'SMS is not set up (KMC_SMPP_URL)' };
  let started = false;
  return {
    settings,
    knex,
    host,
    store,
    rules,
    renderer,
    logger,
    clock,
    adapters,
    notices,
    worker,
    verification,
    verificationLimiter,
    routines,
    runs,
    scheduler,
    sms: adapters.sms instanceof SmsRouter ? adapters.sms : null,
    smsAvailability: () => (adapters.sms instanceof SmsRouter ? adapters.sms.availability() : Promise.resolve(noSms)),
    async startChannels() {
      if (started) return;
      // Marked first: if one channel fails to start, close() still stops those that did.
      started = true;
      for (const a of Object.values(adapters)) await a!.start();
    },
    async close() {
      await scheduler.stop();
      await worker.stop();
      if (started) for (const a of Object.values(adapters)) await a!.stop();
      if (ownsKnex) await knex.destroy();
    },
  };
}
