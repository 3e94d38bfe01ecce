/**
 * `kmc demo`: a newcomer's first look. Builds a demo library database on the
 * local MariaDB, migrates, starts an SMTP capture server, generates and
 * delivers today's overdue notices, serves the pages and says where to look.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import type express from 'express';
import type nunjucks from 'nunjucks';
import { loadSettings, redact } from '../config';
import { createKnex, migrate, recreateDatabase } from '../db';
import { createKohaFixtureSchema, seedLibrary } from '../fixture';
import { runNotices } from '../notices';
import { libraryDay } from '../kernel';
import { startServer, type Running } from '../serve';
import { translator } from '../web';
import { MailCapture } from './capture-smtp';
import { CaptureSmsc } from './capture-smsc';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** The types whose routines wait for staff approval in the demo; their notices are not made at start. */
export const APPROVAL_TYPES: readonly string[] = ['overdue', 'replacement_bill'];

export const DEMO_DATABASE_URL = 'mysql://root@127.0.0.1:3306/kmc_demo';

export interface Demo {
  running: Running;
  mail: MailCapture;
  /** The demo's SMS centre: takes every SMS and answers each with a delivery receipt. */
  smsc: CaptureSmsc;
  stop(): Promise<void>;
}

function outboxPages(mail: MailCapture, smsc: CaptureSmsc) {
  return (app: express.Express, pages: nunjucks.Environment) => {
    // A page staff can read, newest first; the demo's other pages are in English, so is this one.
    app.get('/demo/sms', (_req, res) => {
      const t = translator('en');
      res.type('html').send(
        pages.render('demo-sms.njk', {
          t,
          title: t('demo.sms.title'),
          sms: smsc.messages
            .map((m, i) => ({ n: i + 1, to: m.to, from: m.from, text: m.text, parts: m.parts.length, dataCoding: m.dataCoding }))
            .reverse(),
        }),
      );
    });
    app.get('/demo/outbox', (_req, res) => {
      res.type('html').send(
        pages.render('demo-outbox.njk', {
          title: 'Demo outbox: e-mail received by the capture server',
          mails: mail.messages.map((m, i) => ({ n: i, m })).reverse(),
        }),
      );
    });
    app.get('/demo/outbox/:n', (req, res) => {
      const n = Number(req.params.n);
      const m = Number.isInteger(n) && n >= 0 ? mail.messages.at(n) : undefined;
      if (!m) {
        res.status(404).type('text').send('No such mail.');
        return;
      }
      res.type('html').send(pages.render('demo-mail.njk', { title: m.parsed.subject ?? '(no subject)', m }));
    });
  };
}

export async function startDemo(env: NodeJS.ProcessEnv, out: Out): Promise<Demo> {
  const databaseUrl = env.KMC_DEMO_DATABASE_URL || DEMO_DATABASE_URL;
  const smtpPort = Number(env.KMC_DEMO_SMTP_PORT ?? 2525);
  out.stdout(`Building the demo library in ${redact(databaseUrl)} …`);
  await recreateDatabase(databaseUrl, { prefix: 'kmc_demo', code: 'KMC_DEMO_REFUSED', what: 'the demo' });

  const mail = new MailCapture({ port: smtpPort });
  await mail.start();
  const smsc = await CaptureSmsc.start({
    port: Number(env.KMC_DEMO_SMPP_PORT ?? 2775),
    systemId: 'kmc',
    password: 'demo',
    autoReceipt: { form: 'text', delayMs: 500 },
  });
  const printDir = path.resolve('var', 'demo', 'print');
  rmSync(printDir, { recursive: true, force: true });
  const settings = loadSettings({
    ...env,
    KMC_DATABASE_URL: databaseUrl,
    KMC_SMTP_URL: mail.url,
    KMC_SMPP_URL: smsc.url,
    KMC_PRINT_DIR: printDir,
    KMC_HOST: '127.0.0.1',
    // The demo library is new: nobody told its waiting holds yet, so its first run does (a live library's does not).
    KMC_FIRST_RUN_HOLDS: env.KMC_FIRST_RUN_HOLDS || 'notify',
    // The demo prints its own summary; routine log lines would bury it.
    KMC_LOG_LEVEL: env.KMC_LOG_LEVEL || 'warn',
  });
  const today = libraryDay(new Date(), settings.timezone);

  const knex = createKnex(databaseUrl);
  try {
    await createKohaFixtureSchema(knex);
    const summary = await seedLibrary(knex, { today });
    out.stdout(`  ${JSON.stringify(summary)}`);
    await migrate(knex);
  } finally {
    await knex.destroy();
  }

  const running = await startServer(settings, {
    extend: outboxPages(mail, smsc),
    deliverEveryMs: 5_000,
    // The demo runs its notices once, below; no routine fires on its own.
    jobs: { routines: false, anonymiser: false },
  });
  // Overdue notices and replacement bills wait for staff approval in the demo, and the demo leaves their work
  // undone: "Run now" on the overdue routine then proposes messages to review, the main workflow.
  const { routines } = running.services;
  for (const r of await routines.list())
    if (APPROVAL_TYPES.includes(r.message_type) && !r.needs_approval) await routines.update(r.id, { needs_approval: true });
  // Every other daily type once, so a newcomer sees holds, reminders and welcomes by each channel.
  const runs: string[] = [];
  for (const type of ['hold_waiting', 'hold_reminder', 'predue', 'welcome']) {
    const result = await runNotices(running.services.notices, { type, date: today, startedBy: 'demo' });
    const channels = Object.entries(result.byChannel)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    runs.push(`  ${type.padEnd(14)} created ${result.created}${channels ? ` (${channels})` : ''}`);
  }
  const delivered = await running.services.worker.deliverOnce();

  out.stdout('');
  out.stdout(`Notices for ${today}:`);
  for (const line of runs) out.stdout(line);
  // A letter written to the print folder is not sent: it waits until staff print it and say so.
  const letters = (await running.services.store.lettersToPrint({})).length;
  out.stdout(
    `Delivered: ${delivered.sent - letters} sent (e-mail and SMS), ${letters} letter(s) waiting to print (to_print), ` +
      `${delivered.failed} failed, ${delivered.retried} to retry, ${delivered.held} held.`,
  );
  out.stdout('Overdue notices wait for approval: open Routines, "Overdue notices", Run now, review and approve.');
  out.stdout('');
  out.stdout(`  Staff pages         ${running.url}/   (sign in as admin, password koha-demo)`);
  out.stdout(`  Captured e-mail     ${running.url}/demo/outbox   (SMTP capture on 127.0.0.1:${mail.port})`);
  out.stdout(`  Captured SMS        ${running.url}/demo/sms      (SMSC on 127.0.0.1:${smsc.port}, a delivery receipt for each)`);
  out.stdout(`  Print letters       ${printDir}`);
  out.stdout(`  Health              ${running.url}/healthz`);
  out.stdout('');
  out.stdout(`Try: KMC_DATABASE_URL=${databaseUrl} KMC_SMTP_URL=${mail.url} npm run kmc -- messages --borrower 1`);
  out.stdout('Press Ctrl+C to stop.');

  return {
    running,
    mail,
    smsc,
    async stop() {
      await running.stop();
      await mail.stop();
      await smsc.close();
    },
  };
}

export async function runDemo(env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const demo = await startDemo(env, out);
  const stop = async () => {
    await demo.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
