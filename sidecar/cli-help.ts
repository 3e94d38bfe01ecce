/**
 * `kmc COMMAND --help` and `kmc COMMAND SUBCOMMAND --help`: what each command
 * takes, in one table, so a command's help is found without reading the code
 * and adding a command means adding one row here.
 */

/** Usage of every command and subcommand, keyed `command` or `command subcommand`. */
export const COMMAND_HELP: Readonly<Partial<Record<string, string>>> = {
  migrate: `kmc migrate
  Create or upgrade the sidecar's own tables (safe to run again).`,
  serve: `kmc serve
  Staff pages, JSON API, scheduler and delivery worker, on KMC_HOST:KMC_PORT, until stopped.`,
  run: `kmc run TYPE [--date YYYY-MM-DD] [--branch CODE] [--level N] [--include-existing] [--dry-run] [--json]
  Generate the notices of one type now: overdue, replacement_bill, predue, hold_waiting, hold_reminder, welcome.
  --include-existing (hold_waiting only): also the holds already waiting before the first run.
  --json prints created, skipped, duplicates, byChannel, byStatus, skippedBy.`,
  routines: `kmc routines [--json]
kmc routines run NAME [--date YYYY-MM-DD] [--dry-run] [--json]
  The routines with their schedule and next run; run one now, with its criteria.`,
  'routines run': `kmc routines run NAME [--date YYYY-MM-DD] [--dry-run] [--json]
  Run one routine now (its name in quotes if it has spaces).`,
  rules: `kmc rules import-koha [--json]
kmc rules list [--type TYPE] [--json]
kmc rules delete ID
  Rules from Koha's overdue triggers (safe to run again); the rule matrix; remove a rule (never a baseline).`,
  'rules import-koha': `kmc rules import-koha [--json]
  Rules from Koha's overdue triggers (safe to run again).`,
  'rules list': `kmc rules list [--type TYPE] [--json]
  The rule matrix, of one message type or all.`,
  'rules delete': `kmc rules delete ID
  Remove a rule by its number (a baseline rule stays).`,
  templates: `kmc templates import-koha [--dry-run] [--default-lang CODE] [--json]
  The library's own notice letters from Koha's letter table as templates.`,
  'templates import-koha': `kmc templates import-koha [--dry-run] [--default-lang CODE] [--json]
  The library's own notice letters from Koha's letter table as templates; per letter what was converted and,
  for what could not be, the line and why. Safe to run again; templates staff edited here are never overwritten.`,
  message: `kmc message --borrower N --channel email|sms --text "..." [--subject S]
  A message from staff to one patron.`,
  deliver: `kmc deliver --once [--json]
  Deliver what is due, wait a while for SMS receipts, then stop.
  --json prints sent, failed, retried, held, heldBack, receipts, awaitingReceipt.`,
  messages: `kmc messages --borrower N [--json]
  A patron's messages, newest first, with the loans each covers.`,
  verification: `kmc verification scan [--json]
kmc verification mark-verified --borrower N [--email ADDRESS] [--by NAME]
  Notice new or changed e-mail addresses and send their links; confirm a patron's address by hand.`,
  'verification scan': `kmc verification scan [--json]
  Notice new or changed e-mail addresses, send their links, expire old ones.`,
  'verification mark-verified': `kmc verification mark-verified --borrower N [--email ADDRESS] [--by NAME]
  Staff confirm a patron's current address by hand.`,
  archive: `kmc archive anonymise [--days N] [--json]
  Remove contact data and text from messages older than KMC_RETENTION_DAYS (or N days).`,
  'archive anonymise': `kmc archive anonymise [--days N] [--json]
  Remove contact data and text from messages older than KMC_RETENTION_DAYS (or N days).`,
  grants: `kmc grants --user NAME [--host HOST] [--database NAME]
  The GRANT statements for a least-privilege database user.`,
  bounces: `kmc bounces classify FILE... [--json]
kmc bounces process FILE... [--json]
  Classify saved bounce messages without touching the database; or feed them in as if they had arrived.`,
  'bounces classify': `kmc bounces classify FILE... [--json]
  Classify saved bounce messages (hard, soft, complaint, autoreply, delivered, not_bounce, unknown).`,
  'bounces process': `kmc bounces process FILE... [--json]
  Feed saved returned messages in as if they had arrived: a bounce of a notice marks it and its address.`,
  doctor: `kmc doctor [--json]
  What is set, what is reachable (database, e-mail, SMS), what is wrong and what to do; exit 1 when something is wrong.`,
  seed: `kmc seed [--patrons N] [--loans N] [--biblios N] [--holds N] [--date YYYY-MM-DD] [--seed N]
  Fill an EMPTY database with a believable library (Koha's tables).`,
  demo: `kmc demo
  A demo library, capture servers and the staff pages, in one command.`,
};

export const COMMON_FLAGS = `
Every command also takes --help (this text) and --verbose (its log on stderr at info; KMC_LOG_LEVEL sets another level).
Exit codes: 0 done, 1 the work failed, 2 the command, a flag or a setting is wrong.`;

/** The help of `command` (and its subcommand, when it has a row of its own), or null for an unknown command. */
export function commandHelp(command: string, sub: string | undefined): string | null {
  const text = (sub && !sub.startsWith('-') ? COMMAND_HELP[`${command} ${sub}`] : undefined) ?? COMMAND_HELP[command];
  return text === undefined ? null : `${text}\n${COMMON_FLAGS}`;
}

/** The commands that help knows, for tests and the usage text. */
export function helpedCommands(): string[] {
  return Object.keys(COMMAND_HELP);
}
