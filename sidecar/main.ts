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
import { MessageStore } from './queue';
import { createRuleStore, type RuleStore } from './rules';
import { NoticeRenderer } from './rendering/notices';
import { createLogger, type Logger } from './logging';
import { systemClock, type Clock, type NoticeDeps } from './notices';
import { SmtpAdapter, PrintAdapter, type ChannelAdapter, type ChannelName } from './channels';
import { DeliveryWorker, type RetryPolicy } from './delivery';

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
  notices: NoticeDeps;
  worker: DeliveryWorker;
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
  const adapters: Partial<Record<ChannelName, ChannelAdapter>> = {
    email: new SmtpAdapter({ url: settings.smtpUrl }),
    print: new PrintAdapter({ dir: path.resolve(settings.printDir), now: () => clock.now() }),
    ...opts.adapters,
  };
  const notices: NoticeDeps = {
    knex,
    host,
    store,
    rules,
    renderer,
    logger,
    clock,
    settings,
    availableChannels: Object.keys(adapters) as ChannelName[],
  };
  const worker = new DeliveryWorker({
    store,
    host,
    adapters,
    logger,
    clock,
    pluginClass: settings.pluginClass,
    retryPolicy: opts.retryPolicy,
    workerId: opts.workerId,
    leaseMs: opts.leaseMs,
  });
  let started = false;
  return {
    settings, knex, host, store, rules, renderer, logger, clock, adapters, notices, worker,
    async startChannels() {
      if (started) return;
      for (const a of Object.values(adapters)) await a!.start();
      started = true;
    },
    async close() {
      await worker.stop();
      if (started) for (const a of Object.values(adapters)) await a!.stop();
      if (ownsKnex) await knex.destroy();
    },
  };
}
