/**
 * `kmc`: the command line. Each command builds the composition root
 * (sidecar/main.ts), uses what it needs, and stops it; only `kmc serve`
 * starts the root's jobs.
 */
import { parseArgs } from 'node:util';
import { loadSettings, redact, type Settings } from './config';
import { KmcError, UsageError } from './errors';
import type { App } from './main';
import { commandHelp } from './cli-help';

/*
 * Each command loads what it uses when it runs, not before: `kmc --help` and a short command do not load the web
 * server, the PDF writer and the mail, SMS and scheduling libraries only to leave them unused. The composition
 * root (./main) is still the one place that builds the services.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, as said above */
const use = {
  main: () => require('./main') as typeof import('./main'),
  db: () => require('./db') as typeof import('./db'),
  logging: () => require('./logging') as typeof import('./logging'),
  notices: () => require('./notices') as typeof import('./notices'),
  serve: () => require('./serve') as typeof import('./serve'),
  demo: () => require('./demo') as typeof import('./demo'),
  bounces: () => require('./bounces') as typeof import('./bounces'),
  verification: () => require('./verification') as typeof import('./verification'),
  archive: () => require('./archive') as typeof import('./archive'),
  doctor: () => require('./doctor') as typeof import('./doctor'),
  kohaLetters: () => require('./koha-letters') as typeof import('./koha-letters'),
  delivery: () => require('./delivery') as typeof import('./delivery'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The help text; the commands' own parts come from their capabilities. */
const usage = () => `kmc: Koha Message Center

  kmc migrate                               create or upgrade the sidecar's own tables
  kmc serve                                 staff pages, JSON API and the delivery worker
  kmc run TYPE [--date YYYY-MM-DD] [--branch CODE] [--level N] [--include-existing] [--dry-run] [--json]
                                            generate the notices of one type now: overdue, replacement_bill,
                                            predue, hold_waiting, hold_reminder, welcome
  kmc routines [run NAME [--date D] [--dry-run]] [--json]
                                            the routines with their next run, or run one now
  kmc rules import-koha | list [--type T] | delete ID [--json]
                                            rules from Koha's overdue triggers; the rule matrix
${use.kohaLetters().TEMPLATES_USAGE}
  kmc message --borrower N --channel email|sms --text "..." [--subject S]
                                            a message from staff to one patron
  kmc deliver --once [--json]               deliver what is due, then stop
  kmc messages --borrower N [--json]        a patron's messages, newest first
${use.verification().VERIFICATION_USAGE}
${use.archive().ARCHIVE_USAGE}
  kmc grants --user NAME [--host HOST]      the GRANT statements for a least-privilege database user
  kmc bounces classify FILE... [--json]     classify saved bounce messages (hard, soft, complaint, autoreply,
                                            delivered, not_bounce, unknown) without touching the database
  kmc bounces process FILE... [--json]      feed saved returned messages in as if they had arrived: a bounce
                                            of one of our notices marks it bounced and its address, and
                                            replaces the notice by the next channel its rule allows
  kmc doctor [--json]                       what is set, what is reachable (database, e-mail, SMS), what is wrong
  kmc seed [--patrons N] [--loans N] [--date YYYY-MM-DD]
                                            fill an EMPTY database with a demo library (Koha's tables)
  kmc demo                                  a demo library, capture sinks and the server, in one command

Settings come from the environment: KMC_DATABASE_URL, KMC_SMTP_URL, KMC_SMPP_URL,
KMC_PORT, KMC_PUBLIC_URL, KMC_SECRET, KMC_TIMEZONE, KMC_DEFAULT_COUNTRY, KMC_LOG_LEVEL.`;

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/**
 * The root for one command: nothing started but what the command starts
 * itself. Its logger writes the server's lines without loading winston.
 */
async function withServices<T>(settings: Settings, fn: (s: App) => Promise<T>): Promise<T> {
  const app = use.main().createApp(settings, { logger: use.logging().createLineLogger(settings.logLevel) });
  try {
    return await fn(app);
  } finally {
    await app.stop();
  }
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, got "${value}"`);
  return Number(value);
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Out = {
    stdout: (s) => process.stdout.write(s + '\n'),
    stderr: (s) => process.stderr.write(s + '\n'),
  },
): Promise<number> {
  // --verbose is every command's; without it (or KMC_LOG_LEVEL) a one-off command logs only errors, so stdout stays its answer.
  const verbose = argv.includes('--verbose');
  const [command, ...rest] = argv.filter((a) => a !== '--verbose');
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.stdout(usage());
    return command ? 0 : 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const help = commandHelp(command, rest[0]);
    if (help === null) throw new UsageError(`unknown command "${command}"\n\n${usage()}`);
    out.stdout(help);
    return 0;
  }
  if (!env.KMC_LOG_LEVEL?.trim() && command !== 'serve' && command !== 'demo') env = { ...env, KMC_LOG_LEVEL: verbose ? 'info' : 'error' };
  else if (verbose && !env.KMC_LOG_LEVEL?.trim()) env = { ...env, KMC_LOG_LEVEL: 'info' };

  switch (command) {
    case 'migrate': {
      parseArgs({ args: rest, options: {} });
      const settings = loadSettings(env);
      return withServices(settings, async ({ knex }) => {
        const { applied } = await use.db().migrate(knex);
        out.stdout(applied.length ? `applied: ${applied.join(', ')}` : "the sidecar's tables are up to date");
        return 0;
      });
    }

    case 'run': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          date: { type: 'string' },
          branch: { type: 'string' },
          level: { type: 'string' },
          'dry-run': { type: 'boolean' },
          'include-existing': { type: 'boolean' },
          json: { type: 'boolean' },
        },
      });
      if (positionals.length !== 1) throw new UsageError('kmc run takes one message type, e.g. `kmc run overdue`');
      if (values['include-existing'] && positionals[0] !== 'hold_waiting') {
        throw new UsageError('--include-existing is for `kmc run hold_waiting` (holds already waiting before the first run)');
      }
      const level = positiveInt('level', values.level);
      const settings = loadSettings(env);
      return withServices(settings, async (s) => {
        const result = await use.notices().runNotices(s.notices, {
          type: positionals[0],
          date: values.date ?? null,
          branchcode: values.branch ?? null,
          dryRun: !!values['dry-run'],
          startedBy: 'cli',
          level: level ?? null,
          includeExisting: !!values['include-existing'],
        });
        if (values.json) out.stdout(JSON.stringify(result));
        else if (result.notRun === 'disabled') out.stdout('Nothing generated: the Message Center is switched off in Koha.');
        else {
          out.stdout(
            `${result.dryRun ? 'Would create' : 'Created'} ${result.created} ${result.type} notice(s) for ${result.date}; skipped ${result.skipped} loan(s), ${result.duplicates} duplicate(s).`,
          );
          for (const [channel, n] of Object.entries(result.byChannel)) out.stdout(`  ${channel}: ${n}`);
          for (const [status, n] of Object.entries(result.byStatus)) out.stdout(`  ${status}: ${n}`);
        }
        return 0;
      });
    }

    case 'deliver': {
      const { values } = parseArgs({ args: rest, options: { once: { type: 'boolean' }, json: { type: 'boolean' } } });
      if (!values.once) throw new UsageError('kmc deliver needs --once (the server delivers continuously: kmc serve)');
      const settings = loadSettings(env);
      return withServices(settings, async (s) => {
        await s.startChannels();
        // SIGTERM or Ctrl+C: claim nothing more, finish what is in flight, return the rest to the queue.
        const stop = () => void s.worker.stop();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        const stats = await s.worker.deliverOnce().finally(() => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
        });
        // Receipts come after the send: stay bound a while so they reach their messages before this process exits.
        const waited = s.sms
          ? await use
              .delivery()
              .waitForReceipts(
                { store: s.store, tally: s.receipts, logger: s.logger },
                { sentIds: s.worker.smsAcceptedInLastRun(), waitMs: s.settings.sms.receiptWaitMs },
              )
          : null;
        const report = { ...stats, receipts: s.receipts.taken(), awaitingReceipt: waited?.stillSent ?? 0 };
        if (values.json) out.stdout(JSON.stringify(report));
        else if (stats.disabled) out.stdout('Nothing sent: the Message Center is switched off in Koha.');
        else
          out.stdout(
            `sent ${stats.sent}, failed ${stats.failed}, to retry ${stats.retried}, held ${stats.held}` +
              (s.sms ? `; SMS receipts taken ${report.receipts}, still awaiting a receipt ${report.awaitingReceipt}` : ''),
          );
        return 0;
      });
    }

    case 'messages': {
      const { values } = parseArgs({ args: rest, options: { borrower: { type: 'string' }, json: { type: 'boolean' } } });
      const borrower = positiveInt('borrower', values.borrower);
      if (!borrower) throw new UsageError('kmc messages needs --borrower N');
      const settings = loadSettings(env);
      return withServices(settings, async (s) => {
        const messages = await s.store.forBorrower(borrower);
        const items = await s.store.items(messages.map((m) => m.id));
        const emailVerification = await s.verification.stateOf(borrower);
        if (values.json) {
          out.stdout(
            JSON.stringify({
              borrowernumber: borrower,
              emailVerification,
              messages: messages.map((m) => ({ ...m, items: items.filter((i) => i.message_id === m.id) })),
            }),
          );
        } else if (!messages.length) {
          out.stdout(use.verification().describeState(emailVerification));
          out.stdout(`No messages for patron ${borrower}.`);
        } else {
          out.stdout(use.verification().describeState(emailVerification));
          for (const m of messages) {
            out.stdout(
              `#${m.id}  ${m.created_at}  ${m.message_type}${m.level ? ` ${m.level}` : ''}  ${m.channel}  ${m.status}${m.status_reason ? ` (${m.status_reason})` : ''}  ${m.subject ?? ''}`,
            );
          }
        }
        return 0;
      });
    }

    case 'verification':
      return withServices(loadSettings(env), (s) => use.verification().verificationCommand(rest, s.verification, out));

    case 'archive':
      return withServices(loadSettings(env), (s) => use.archive().archiveCommand(rest, s, out));

    case 'rules':
      return use.notices().rulesCommand(rest, (fn) => withServices(loadSettings(env), fn), out);
    case 'templates':
      return use
        .kohaLetters()
        .templatesCommand(
          rest,
          (fn) => withServices(loadSettings(env), (s) => fn({ host: s.host, templates: s.templates, now: () => s.clock.now() })),
          out,
        );
    case 'routines':
      return use.notices().routinesCommand(rest, (fn) => withServices(loadSettings(env), fn), out);
    case 'message':
      return use.notices().messageCommand(rest, (fn) => withServices(loadSettings(env), fn), out);

    case 'bounces': {
      const [sub, ...args] = rest;
      if (sub !== 'classify' && sub !== 'process')
        throw new UsageError('kmc bounces takes: classify FILE... [--json], or process FILE... [--json]');
      const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
      if (!positionals.length) throw new UsageError(`kmc bounces ${sub} needs at least one file`);
      if (sub === 'classify') return use.bounces().bouncesClassifyCommand(positionals, { json: values.json ?? false }, out);
      return withServices(loadSettings(env), (s) =>
        use.bounces().bouncesProcessCommand(positionals, { json: values.json ?? false }, s.bounces, out),
      );
    }

    case 'doctor':
      return use.doctor().doctorCommand(rest, use.doctor().doctorDeps(env), out);

    case 'grants': {
      const { values } = parseArgs({
        args: rest,
        options: { user: { type: 'string' }, host: { type: 'string' }, database: { type: 'string' } },
      });
      if (!values.user || !/^[A-Za-z0-9_]{1,32}$/.test(values.user))
        throw new UsageError('kmc grants needs --user NAME (letters, digits, _)');
      const host = values.host ?? 'localhost';
      if (!/^[A-Za-z0-9_.%:-]{1,255}$/.test(host)) throw new UsageError('--host takes a host name, an address or %');
      const database = values.database ?? new URL(loadSettings(env).databaseUrl).pathname.slice(1);
      out.stdout(grantStatements(values.user, host, database).join('\n'));
      return 0;
    }

    case 'seed': {
      const { values } = parseArgs({
        args: rest,
        options: {
          patrons: { type: 'string' },
          loans: { type: 'string' },
          biblios: { type: 'string' },
          holds: { type: 'string' },
          date: { type: 'string' },
          seed: { type: 'string' },
        },
      });
      const settings = loadSettings(env);
      const summary = await use.demo().seedDemoDatabase(settings, {
        patrons: positiveInt('patrons', values.patrons),
        loans: positiveInt('loans', values.loans),
        biblios: positiveInt('biblios', values.biblios),
        holds: positiveInt('holds', values.holds),
        seed: positiveInt('seed', values.seed),
        today: values.date,
        onProgress: (m: string) => {
          out.stderr(m);
        },
      });
      out.stdout(JSON.stringify(summary));
      return 0;
    }

    case 'serve': {
      parseArgs({ args: rest, options: {} });
      const settings = loadSettings(env);
      await use.serve().serve(settings, { out });
      return 0;
    }

    case 'demo': {
      parseArgs({ args: rest, options: {} });
      await use.demo().runDemo(env, out);
      return 0;
    }

    default:
      throw new UsageError(`unknown command "${command}"\n\n${usage()}`);
  }
}

/**
 * Least privilege: SELECT on Koha's tables, and rights on the sidecar's own
 * tables only. MariaDB has no table-name wildcards, so each table is named.
 */
export function grantStatements(user: string, host: string, database: string): string[] {
  const who = `'${user}'@'${host}'`;
  const db = `\`${database.replace(/`/g, '')}\``;
  return [
    `-- Koha's tables: read only.`,
    `GRANT SELECT ON ${db}.* TO ${who};`,
    `-- The sidecar's own tables: created by kmc migrate, then read and written.`,
    ...use
      .db()
      .ownTables()
      .map((t) => `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON ${db}.\`${t}\` TO ${who};`),
  ];
}

export function reportError(err: unknown, out: Pick<Out, 'stderr'>, verbose = false): number {
  // A stack trace helps whoever debugs, not whoever runs the command: only with --verbose.
  if (verbose && err instanceof Error && err.stack) out.stderr(err.stack);
  if (err instanceof KmcError) {
    out.stderr(`kmc: ${redact(err.message)} [${err.code}]`);
    return err.code === 'KMC_USAGE' || err.code === 'KMC_SETTINGS_INVALID' ? 2 : 1;
  }
  const e: { code?: unknown; message?: unknown } = typeof err === 'object' && err !== null ? err : {};
  // Node's argument parser: an unknown flag, a missing value, a stray word are the command's usage.
  if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS_')) {
    const named = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? '';
    out.stderr(`kmc: ${String(e.message)} (kmc ${named} --help says what it takes)`);
    return 2;
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_BAD_DB_ERROR') {
    out.stderr(`kmc: cannot use the database (${e.code}): ${String(e.message)}. Check KMC_DATABASE_URL.`);
    return 1;
  }
  out.stderr(`kmc: ${typeof e.message === 'string' ? e.message : String(err)}`);
  return 1;
}

if (require.main === module) {
  const stderr = (s: string) => process.stderr.write(s + '\n');
  main(process.argv.slice(2))
    .then((code) => {
      // serve and demo keep running on their own; the others are done.
      if (!['serve', 'demo'].includes(process.argv[2] ?? '')) process.exit(code);
    })
    .catch((err: unknown) => process.exit(reportError(err, { stderr }, process.argv.includes('--verbose'))));
}
