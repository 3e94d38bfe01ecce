/**
 * `kmc serve`: the composition root's web app on a port. This file only
 * starts the root, listens and traps the signals; what runs (pages, JSON
 * API, delivery, routines, verification scan, nightly anonymiser) and the
 * order it stops in are the root's (sidecar/main.ts).
 */
import type { Server } from 'node:http';
import type { Settings } from './config';
import { createApp, type App, type AppOptions } from './main';

export interface Running {
  services: App;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/** Builds the root, starts it and listens; stop() stops taking requests, then stops the root. */
export async function startServer(settings: Settings, opts: AppOptions = {}): Promise<Running> {
  const app = createApp(settings, opts);
  try {
    await app.start();
  } catch (err) {
    await app.stop();
    throw err;
  }
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.web.listen(settings.port, settings.host, () => {
      resolve(s);
    });
    s.on('error', reject);
  }).catch(async (err: unknown) => {
    await app.stop();
    throw err;
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;
  app.logger.info('server.listening', { url });
  let stopping: Promise<void> | null = null;
  return {
    services: app,
    server,
    url,
    stop() {
      stopping ??= (async () => {
        // Stop taking work first: no new requests, those in flight finish.
        await new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        await app.stop();
      })();
      return stopping;
    },
  };
}

export async function serve(settings: Settings, { out }: { out: { stdout: (s: string) => void } }): Promise<Running> {
  const running = await startServer(settings);
  out.stdout(`Message Center listening on ${running.url}`);
  const shutdown = async (signal: string) => {
    running.services.logger.info('server.stopping', { signal });
    await running.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return running;
}
