/**
 * `kmc serve`: pages, JSON API and the delivery worker in one process, with
 * a graceful stop: claiming stops, what is in flight finishes, then we exit.
 */
import type { Server } from 'node:http';
import type express from 'express';
import type nunjucks from 'nunjucks';
import type { Settings } from './config';
import { createServices, type ServiceOptions, type Services } from './main';
import { createWebApp } from './web';
import { migrationStatus } from './db';
import { KmcError } from './errors';
import { startVerificationSchedule, verificationRouters } from './verification';
import { startNightlyAnonymiser } from './archive';

export interface Running {
  services: Services;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(
  settings: Settings,
  opts: ServiceOptions & {
    extend?: (app: express.Express, pages: nunjucks.Environment) => void;
    deliverEveryMs?: number;
    verifyEveryMs?: number;
  } = {},
): Promise<Running> {
  const services = createServices(settings, opts);
  const status = await migrationStatus(services.knex);
  if (!status.current) {
    await services.close();
    throw new KmcError(
      'KMC_MIGRATIONS_PENDING',
      `the sidecar's tables are not up to date (pending: ${status.pending.join(', ') || 'none'}); run kmc migrate`,
    );
  }
  // The e-mail verification scan every few minutes (0 = only by `kmc verification scan`).
  const verificationSchedule = await startVerificationSchedule(services, { everyMs: opts.verifyEveryMs }).catch(async (err) => {
    await services.close();
    throw err;
  });
  await services.startChannels();
  services.worker.start(opts.deliverEveryMs ?? 15_000);
  const app = createWebApp({
    knex: services.knex,
    store: services.store,
    host: services.host,
    logger: services.logger,
    clock: services.clock,
    settings,
    extend: opts.extend,
    notices: services.notices,
    channels: services.adapters,
    routers: verificationRouters({ service: services.verification, limiter: services.verificationLimiter, logger: services.logger }),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(settings.port, settings.host, () => resolve(s));
    s.on('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;
  services.logger.info('server.listening', { url });
  let stopped = false;
  return {
    services,
    server,
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await verificationSchedule.stop();
      await services.close();
    },
  };
}

export async function serve(settings: Settings, { out }: { out: { stdout: (s: string) => void } }): Promise<Running> {
  const running = await startServer(settings);
  out.stdout(`Message Center listening on ${running.url}`);
  // Routines run on their schedules only in the long-running server (tests and the demo run them by hand).
  await running.services.scheduler.start();
  // Messages past the retention period lose their contact data and text at night.
  const anonymiser = startNightlyAnonymiser({
    store: running.services.store,
    runs: running.services.runs,
    clock: running.services.clock,
    logger: running.services.logger,
    settings,
  });
  const shutdown = async (signal: string) => {
    running.services.logger.info('server.stopping', { signal });
    anonymiser.stop();
    await running.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return running;
}
