/**
 * The staff pages and JSON API. Pages are rendered on the server from the
 * trusted templates in templates/pages, with autoescape on.
 */
import path from 'node:path';
import express, { type Request, type Response, type NextFunction } from 'express';
import nunjucks from 'nunjucks';
import type { Knex } from 'knex';
import { migrationStatus } from '../db';
import type { MessageStore } from '../queue';
import type { Logger } from '../logging';
import type { HostReader } from '../host';

export const PAGE_TEMPLATE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'pages');

export interface WebDeps {
  knex: Knex;
  store: MessageStore;
  host: HostReader;
  logger: Logger;
  /** Extra pages, e.g. the demo's captured mail. */
  extend?: (app: express.Express, pages: nunjucks.Environment) => void;
}

export function createPageEnvironment(): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGE_TEMPLATE_DIR, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('when', (v: string | null) => (v ? v.replace(/\.\d{3}$/, '') + ' UTC' : ''));
  return env;
}

export function createWebApp(deps: WebDeps): express.Express {
  const app = express();
  const pages = createPageEnvironment();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  const render = (res: Response, name: string, ctx: Record<string, unknown>) => {
    res.type('html').send(pages.render(name, ctx));
  };

  app.get('/healthz', async (_req, res) => {
    try {
      await deps.knex.raw('SELECT 1');
      const status = await migrationStatus(deps.knex);
      const ok = status.current;
      res.status(ok ? 200 : 503).json({ ok, database: 'reachable', migrations: status });
    } catch (err) {
      res.status(503).json({ ok: false, database: 'unreachable', error: (err as Error).message });
    }
  });

  app.get('/', async (_req, res) => {
    const [messages, counts] = await Promise.all([deps.store.recent(100), deps.store.countByStatus()]);
    const patrons = Object.fromEntries(await deps.host.patronNames(messages.map((m) => m.borrowernumber)));
    render(res, 'messages.njk', { messages, counts, patrons, title: 'Recent messages' });
  });

  app.get('/messages/:id', async (req, res) => {
    const id = Number(req.params.id);
    const message = Number.isInteger(id) ? await deps.store.get(id) : null;
    if (!message) {
      res.status(404);
      render(res, 'error.njk', { title: 'Not found', text: 'There is no message with that number.' });
      return;
    }
    const [items, events, patrons] = await Promise.all([deps.store.items([id]), deps.store.events(id), deps.host.patronNames([message.borrowernumber])]);
    render(res, 'message.njk', { message, items, events, patron: patrons.get(message.borrowernumber) ?? null, title: `Message ${id}` });
  });

  app.get('/api/messages', async (req, res) => {
    const borrower = Number(req.query.borrower);
    const list = Number.isInteger(borrower) && borrower > 0 ? await deps.store.forBorrower(borrower) : await deps.store.recent(100);
    res.json({ messages: list });
  });

  deps.extend?.(app, pages);

  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error('web.error', { error: err.message });
    res.status(500);
    render(res, 'error.njk', { title: 'Something went wrong', text: 'The page could not be shown. The error is in the log.' });
  });
  return app;
}
