/**
 * `kmc doctor`: what is set, what is reachable, and what is wrong, each with
 * what to do about it. Everything it touches comes in as a parameter (see
 * probes.ts for the real ones), so the checks read as a list of questions.
 * It changes nothing: no table, no folder, no message.
 */
import { dkimKeyOf, dkimRecordText, type DkimKey, type Settings } from '../config';
import type { MigrationStatus } from '../db';
import type { KohaQueuedNotices, PluginState } from '../host';
import type { SmsBranchAccount } from '../channels';
import { addressFindings, type LibraryAddresses } from './addresses';

/** ok: as it should be; warning: works, but look at it; problem: something does not work; not_checked: an earlier problem stands in the way. */
export type Verdict = 'ok' | 'warning' | 'problem' | 'not_checked';

export type CheckArea = 'settings' | 'database' | 'migrations' | 'plugin' | 'koha_jobs' | 'addresses' | 'email' | 'sms' | 'print';

export interface Finding {
  area: CheckArea;
  /** What was checked, e.g. "the SMS account of branch CPL". */
  subject: string;
  verdict: Verdict;
  /** What was found, in words. */
  says: string;
  /** What to do about it; null when nothing needs doing. */
  hint: string | null;
}

export interface SettingShown {
  name: string;
  /** Passwords and the secret never show. */
  value: string;
  from: 'environment' | 'default';
}

export interface DoctorReport {
  /** True when no finding is a problem: the exit code is 0. */
  ok: boolean;
  problems: number;
  warnings: number;
  settings: SettingShown[];
  findings: Finding[];
}

/** The database as the sidecar's own user sees it. */
export interface DoctorDatabase {
  migrationStatus: () => Promise<MigrationStatus>;
  pluginState: (pluginClass: string) => Promise<PluginState>;
  /** Koha's own notices of the kinds the sidecar sends, queued in Koha's message_queue in the last days. */
  kohaQueuedNotices: () => Promise<{ days: number; rows: KohaQueuedNotices[] }>;
  branchSmsAccounts: () => Promise<SmsBranchAccount[]>;
  /** The DKIM keys staff set on the branch settings page (domain, selector, PEM). */
  branchDkimKeys?: () => Promise<Array<{ branchcode: string; domain: string; selector: string; privateKey: string }>>;
  /** The library's addresses in Koha's branches and preferences and in the branch settings here. */
  libraryAddresses: () => Promise<LibraryAddresses>;
  close: () => Promise<void>;
}

export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  loadSettings: (env: NodeJS.ProcessEnv) => Settings;
  openDatabase: (settings: Settings) => DoctorDatabase;
  /** Connects to the mail server, greets it and signs in; sends nothing. */
  verifySmtp: (settings: Settings) => Promise<void>;
  /** Binds to an SMS account and unbinds again; sends nothing. */
  bindSms: (url: string, settings: Settings) => Promise<void>;
  /** Resolves when the folder exists and this user may write to it. */
  checkWritable: (dir: string) => Promise<void>;
  /** system_id@host:port: an SMS account without its password. */
  accountLabel: (url: string) => string;
  /** A URL with its password replaced by ***. */
  redact: (url: string) => string;
  /** The TXT records at a DNS name (each record as its strings); rejects with the resolver's code. */
  resolveTxt: (name: string) => Promise<string[][]>;
}

/** The settings an admin most needs to see, with the value in effect. */
const SHOWN: Array<{ name: string; value: (s: Settings) => string }> = [
  { name: 'KMC_DATABASE_URL', value: (s) => s.databaseUrl },
  { name: 'KMC_SMTP_URL', value: (s) => s.smtpUrl },
  { name: 'KMC_SMPP_URL', value: (s) => s.smppUrl ?? '(none)' },
  { name: 'KMC_DKIM_KEYS', value: (s) => s.dkim.map((k) => `${k.domain}:${k.selector}:${k.file}`).join(', ') || '(none)' },
  { name: 'KMC_MAIL_FROM', value: (s) => s.mailFrom },
  { name: 'KMC_HOST', value: (s) => s.host },
  { name: 'KMC_PORT', value: (s) => String(s.port) },
  { name: 'KMC_PUBLIC_URL', value: (s) => s.publicUrl },
  { name: 'KMC_SECRET', value: () => '(hidden)' },
  { name: 'KMC_KOHA_STAFF_ORIGIN', value: (s) => s.kohaStaffOrigins.join(' ') || '(none)' },
  { name: 'KMC_TRUST_PROXY', value: (s) => (s.trustProxy === false ? '(none)' : String(s.trustProxy)) },
  { name: 'KMC_TIMEZONE', value: (s) => s.timezone },
  { name: 'KMC_DEFAULT_COUNTRY', value: (s) => s.defaultCountry },
  { name: 'KMC_PRINT_DIR', value: (s) => s.printDir },
  { name: 'KMC_PLUGIN_CLASS', value: (s) => s.pluginClass },
  { name: 'KMC_WITHOUT_PLUGIN', value: (s) => (s.withoutPlugin ? 'on' : 'off') },
  { name: 'KMC_LOG_LEVEL', value: (s) => s.logLevel },
  { name: 'KMC_RETENTION_DAYS', value: (s) => String(s.retentionDays) },
];

function isSecretName(name: string): boolean {
  return /SECRET|PASSWORD|PASS$|TOKEN/.test(name);
}

function isSet(env: NodeJS.ProcessEnv, name: string): boolean {
  return (env[name]?.trim() ?? '') !== '';
}

/** Only a URL with a user part can carry a password; other values show as they are. */
function hidePassword(value: string, redact: (url: string) => string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value) ? redact(value) : value;
}

function settingsShown(env: NodeJS.ProcessEnv, settings: Settings | null, redact: (url: string) => string): SettingShown[] {
  const shown: SettingShown[] = SHOWN.map(({ name, value }) => {
    const from = isSet(env, name) ? 'environment' : 'default';
    if (isSecretName(name)) return { name, value: from === 'environment' ? '(hidden)' : '(the development secret)', from };
    const raw = settings ? value(settings) : (env[name]?.trim() ?? '(default)');
    return { name, value: hidePassword(raw, redact), from };
  });
  // The rest of what is set (retry budgets, SMPP tuning, …), as given.
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('KMC_') || SHOWN.some((s) => s.name === name) || !isSet(env, name)) continue;
    shown.push({ name, value: isSecretName(name) ? '(hidden)' : hidePassword(env[name]?.trim() ?? '', redact), from: 'environment' });
  }
  return shown;
}

function errorCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null || !('code' in err)) return null;
  return typeof err.code === 'string' ? err.code : null;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '(default port)'}`;
}

function databaseFinding(settings: Settings, err: unknown): Finding {
  const u = new URL(settings.databaseUrl);
  const where = `${u.hostname}:${u.port || 3306}`;
  const name = u.pathname.slice(1);
  const code = errorCode(err);
  const known: Record<string, [string, string]> = {
    ECONNREFUSED: [`nothing answers at ${where}`, 'start MariaDB, or correct the host and port in KMC_DATABASE_URL'],
    ENOTFOUND: [`the host ${u.hostname} is not known`, 'correct the host in KMC_DATABASE_URL'],
    ETIMEDOUT: [`${where} does not answer in time`, 'check the host in KMC_DATABASE_URL and that a firewall lets this machine reach it'],
    ER_ACCESS_DENIED_ERROR: [
      `MariaDB at ${where} refused the user "${decodeURIComponent(u.username)}" or its password`,
      'correct the user and password in KMC_DATABASE_URL (kmc grants prints the rights the user needs)',
    ],
    ER_BAD_DB_ERROR: [`MariaDB at ${where} has no database "${name}"`, "KMC_DATABASE_URL must name Koha's database"],
    ER_DBACCESS_DENIED_ERROR: [
      `the user may not use the database "${name}"`,
      'give the user its rights: kmc grants --user NAME prints the GRANT statements',
    ],
  };
  const [says, hint] = (code && known[code]) || [
    `cannot use the database at ${where}: ${errorText(err)}`,
    'check KMC_DATABASE_URL and that MariaDB runs',
  ];
  return { area: 'database', subject: 'the database', verdict: 'problem', says: code ? `${says} (${code})` : says, hint };
}

function smtpFinding(settings: Settings, err: unknown): Finding {
  const where = hostOf(settings.smtpUrl);
  // nodemailer calls a refused connection a socket error; the words should say what happened.
  const code = errorCode(err);
  const kind = errorText(err).includes('ECONNREFUSED') ? 'ECONNECTION' : code;
  const known: Record<string, [string, string]> = {
    ECONNECTION: [`nothing answers at ${where}`, 'start the mail server, or correct the host and port in KMC_SMTP_URL'],
    ESOCKET: [
      `the connection to the mail server at ${where} failed`,
      'check the host and port in KMC_SMTP_URL, and TLS (smtps:// or ?tls=off)',
    ],
    ETIMEDOUT: [
      `the mail server at ${where} does not answer in time`,
      'check the host in KMC_SMTP_URL and that a firewall lets this machine reach it',
    ],
    EDNS: [`the mail server's host name in KMC_SMTP_URL is not known`, 'correct the host in KMC_SMTP_URL'],
    EAUTH: [`the mail server at ${where} refused the user or password`, 'correct the user and password in KMC_SMTP_URL'],
    ETLS: [`TLS with the mail server at ${where} failed`, 'check its certificate, or smtps:// versus smtp:// in KMC_SMTP_URL'],
  };
  const [says, hint] = (kind && known[kind]) || [
    `the mail server at ${where} does not work`,
    'check KMC_SMTP_URL and that the mail server runs',
  ];
  return {
    area: 'email',
    subject: 'the mail server (KMC_SMTP_URL)',
    verdict: 'problem',
    says: `${says}: ${errorText(err)}${code ? ` (${code})` : ''}`,
    hint,
  };
}

function smsHint(err: unknown, setting: string): string {
  switch (errorCode(err)) {
    case 'SMPP_BIND_REJECTED':
      return `the SMSC refused the system_id or password: correct them in ${setting}`;
    case 'SMPP_TLS_FAILED':
      return 'check smpps:// versus smpp://, KMC_SMPP_TLS and KMC_SMPP_CA (the certificate must be trusted)';
    case 'SMPP_CONNECT_FAILED':
      return `check the host and port in ${setting}, and that a firewall lets this machine reach the SMSC`;
    default:
      return `check ${setting} and that the SMSC answers`;
  }
}

/** Who sends SMS through which account: the default one and each branch's own. */
function smsTargets(
  settings: Settings,
  branches: SmsBranchAccount[],
): Array<{ subject: string; url: string | null; setting: string; note: string | null }> {
  const targets: Array<{ subject: string; url: string | null; setting: string; note: string | null }> = [
    { subject: 'the default SMS account (KMC_SMPP_URL)', url: settings.smppUrl, setting: 'KMC_SMPP_URL', note: null },
  ];
  for (const b of [...branches].sort((x, y) => x.branchcode.localeCompare(y.branchcode))) {
    const subject = `the SMS account of branch ${b.branchcode}`;
    const setting = `the branch's sms_url (staff pages, Settings)`;
    if (!b.enabled) targets.push({ subject, url: null, setting, note: 'SMS is switched off for this branch' });
    else if (!b.url) targets.push({ subject, url: null, setting, note: 'the branch uses the default account' });
    else targets.push({ subject, url: b.url, setting, note: null });
  }
  return targets;
}

async function smsFindings(deps: DoctorDeps, settings: Settings, branches: SmsBranchAccount[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  const bound = new Map<string, unknown>();
  for (const t of smsTargets(settings, branches)) {
    if (t.note !== null) {
      findings.push({ area: 'sms', subject: t.subject, verdict: 'ok', says: t.note, hint: null });
      continue;
    }
    if (t.url === null) {
      const others = branches.some((b) => b.enabled && b.url);
      findings.push({
        area: 'sms',
        subject: t.subject,
        verdict: 'warning',
        says: others
          ? 'not set: SMS needs the default account, so no SMS is sent, not even from branches with an account of their own'
          : 'not set: no notice goes by SMS',
        hint: 'set KMC_SMPP_URL (smpp://system_id:password@host:port) when the library sends SMS',
      });
      continue;
    }
    const label = deps.accountLabel(t.url);
    // One bind per account, however many branches share it.
    if (!bound.has(t.url))
      bound.set(
        t.url,
        await deps.bindSms(t.url, settings).then(
          () => null,
          (err: unknown) => err ?? 'failed',
        ),
      );
    const err = bound.get(t.url);
    findings.push(
      err === null
        ? { area: 'sms', subject: t.subject, verdict: 'ok', says: `${label}: bound and unbound again`, hint: null }
        : { area: 'sms', subject: t.subject, verdict: 'problem', says: `${label}: ${errorText(err)}`, hint: smsHint(err, t.setting) },
    );
  }
  return findings;
}

function migrationFinding(status: MigrationStatus): Finding {
  const subject = "the sidecar's tables (migrations)";
  if (status.changed.length) {
    return {
      area: 'migrations',
      subject,
      verdict: 'problem',
      says: `applied migrations were edited afterwards: ${status.changed.join(', ')}`,
      hint: 'put back sql/ as released; a change to the tables goes in a new migration file',
    };
  }
  if (status.pending.length) {
    return {
      area: 'migrations',
      subject,
      verdict: 'problem',
      says: `${status.pending.length} migration(s) not applied: ${status.pending.join(', ')}`,
      hint: 'run kmc migrate (when upgrading: stop kmc serve, migrate, start it again)',
    };
  }
  return { area: 'migrations', subject, verdict: 'ok', says: `up to date (${status.applied.length} applied)`, hint: null };
}

function pluginFinding(settings: Settings, state: PluginState): Finding {
  const subject = `the Koha plugin (${settings.pluginClass})`;
  if (!state.installed) {
    if (settings.withoutPlugin) {
      return {
        area: 'plugin',
        subject,
        verdict: 'ok',
        says: 'not installed in Koha; KMC_WITHOUT_PLUGIN is on, so the sidecar runs on its own',
        hint: null,
      };
    }
    if (state.seenBefore) {
      return {
        area: 'plugin',
        subject,
        verdict: 'problem',
        says: 'uninstalled in Koha after the sidecar had seen it installed: no notice is generated or sent',
        hint: 'install the plugin again on Koha’s plugin page, or set KMC_WITHOUT_PLUGIN=on to run the sidecar without it on purpose',
      };
    }
    return {
      area: 'plugin',
      subject,
      verdict: 'warning',
      says: 'not installed in Koha: the sidecar runs on its own until it has once seen the plugin, and staff do not see its pages inside Koha',
      hint: 'upload the plugin (npm run package:kpz builds it) on Koha’s plugin page, correct KMC_PLUGIN_CLASS, or set KMC_WITHOUT_PLUGIN=on',
    };
  }
  const version = state.version ? `, version ${state.version}` : '';
  if (!state.enabled) {
    return {
      area: 'plugin',
      subject,
      verdict: 'problem',
      says: `installed${version}, but switched off (Koha counts it on only when __ENABLED__ is 1): no notice is generated or sent`,
      hint: 'switch it on on Koha’s plugin page when notices should go out',
    };
  }
  return { area: 'plugin', subject, verdict: 'ok', says: `installed${version} and switched on`, hint: null };
}

const KOHA_JOBS_SUBJECT = "Koha's own notice jobs";

/** Koha's cron jobs still queueing the notices the sidecar sends: each patron would get them twice. */
function kohaJobsFinding(found: { days: number; rows: KohaQueuedNotices[] }): Finding {
  const total = found.rows.reduce((n, r) => n + r.count, 0);
  if (!total) {
    return {
      area: 'koha_jobs',
      subject: KOHA_JOBS_SUBJECT,
      verdict: 'ok',
      says: `no overdue, pre-due or hold notice in Koha's message_queue in the last ${found.days} days`,
      hint: null,
    };
  }
  const newest =
    found.rows
      .map((r) => r.newest ?? '')
      .sort()
      .at(-1) ?? '';
  const figures = found.rows.map((r) => `${r.letter_code} by ${r.message_transport_type}: ${r.count}`).join(', ');
  return {
    area: 'koha_jobs',
    subject: KOHA_JOBS_SUBJECT,
    verdict: 'warning',
    says: `still at work: ${total} notice(s) in Koha's message_queue in the last ${found.days} days (${figures}; newest ${newest}); patrons get these notices twice`,
    hint: "switch off overdue_notices.pl, advance_notices.pl and holds/holds_reminder.pl in Koha's cron (/etc/cron.d/koha-common, or the koha user's crontab); see the README, Koha's own notice jobs",
  };
}

function settingWarnings(env: NodeJS.ProcessEnv, settings: Settings): Finding[] {
  const out: Finding[] = [];
  if (!isSet(env, 'KMC_SECRET')) {
    out.push({
      area: 'settings',
      subject: 'KMC_SECRET',
      verdict: 'warning',
      says: 'not set: links and tokens are signed with the development secret, which anyone can read',
      hint: 'set KMC_SECRET to a long random text (openssl rand -base64 33) and give Koha’s plugin the same',
    });
  }
  if (!settings.kohaStaffOrigins.length) {
    out.push({
      area: 'settings',
      subject: 'KMC_KOHA_STAFF_ORIGIN',
      verdict: 'warning',
      says: 'not set: Koha’s staff interface may not show the pages in its frame',
      hint: 'set it to the address of Koha’s staff interface, e.g. https://staff.library.example',
    });
  }
  if (settings.publicUrl.startsWith('https:') && settings.trustProxy === false) {
    out.push({
      area: 'settings',
      subject: 'KMC_TRUST_PROXY',
      verdict: 'warning',
      says: 'KMC_PUBLIC_URL is https, so a proxy speaks TLS in front of the pages, but the sidecar believes no proxy',
      hint: 'set KMC_TRUST_PROXY=loopback when Apache runs on this machine',
    });
  }
  return out;
}

async function printFinding(deps: DoctorDeps, settings: Settings): Promise<Finding> {
  const subject = `the print folder (KMC_PRINT_DIR ${settings.printDir})`;
  try {
    await deps.checkWritable(settings.printDir);
    return { area: 'print', subject, verdict: 'ok', says: 'exists and this user may write to it', hint: null };
  } catch (err) {
    const missing = errorCode(err) === 'ENOENT';
    return {
      area: 'print',
      subject,
      verdict: missing ? 'warning' : 'problem',
      says: missing
        ? 'does not exist yet; it is made with the first letter if the folder above allows'
        : `cannot be written to: ${errorText(err)}`,
      hint: 'make it, owned by the user kmc runs as: install -d -o kmc -g kmc FOLDER (run kmc doctor as that user to check)',
    };
  }
}

function notChecked(area: CheckArea, subject: string, why: string): Finding {
  return { area, subject, verdict: 'not_checked', says: why, hint: null };
}

/** Resolver codes meaning the name has no such record (DNS answered), not that DNS could not be asked. */
const NO_RECORD_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** The tags of a DKIM key record (v=DKIM1; k=rsa; p=...), the strings of the record joined. */
function dkimTags(record: string[]): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.join('').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/**
 * Each DKIM key of KMC_DKIM_KEYS against the record published for its
 * selector, where DNS can be asked; always with the record to publish. DNS
 * that cannot be asked is said, and is no problem of the installation.
 */
export async function dkimFindings(deps: Pick<DoctorDeps, 'resolveTxt'>, keys: readonly DkimKey[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const key of keys) {
    const name = `${key.selector}._domainkey.${key.domain}`;
    const subject = `the DKIM key of ${key.domain} (selector ${key.selector}, ${key.file})`;
    const publish = `publish a TXT record at ${name} with the text: ${dkimRecordText(key)}`;
    let records: string[][];
    try {
      records = await deps.resolveTxt(name);
    } catch (err) {
      const code = errorCode(err);
      findings.push(
        code && NO_RECORD_CODES.has(code)
          ? {
              area: 'email',
              subject,
              verdict: 'warning',
              says: `nothing is published at ${name}: receivers cannot check the signature`,
              hint: publish,
            }
          : {
              area: 'email',
              subject,
              verdict: 'not_checked',
              says: `DNS could not be asked from here (${code ?? errorText(err)}), so the published record was not compared with the key`,
              hint: `check it from a machine that reaches DNS; the record to ${publish}`,
            },
      );
      continue;
    }
    const keyRecords = records.map(dkimTags).filter((t) => t.has('p'));
    if (keyRecords.some((t) => t.get('p') === key.publicKeyBase64)) {
      findings.push({ area: 'email', subject, verdict: 'ok', says: `the record at ${name} matches the key`, hint: null });
    } else if (keyRecords.some((t) => t.get('p') === '')) {
      findings.push({
        area: 'email',
        subject,
        verdict: 'problem',
        says: `the record at ${name} revokes the key (empty p=)`,
        hint: publish,
      });
    } else {
      findings.push({
        area: 'email',
        subject,
        verdict: 'problem',
        says: keyRecords.length
          ? `the record at ${name} holds another key: signatures made with this key fail`
          : `the TXT record at ${name} is not a DKIM key record`,
        hint: `replace it: ${publish}`,
      });
    }
  }
  return findings;
}

function report(settings: SettingShown[], findings: Finding[]): DoctorReport {
  const problems = findings.filter((f) => f.verdict === 'problem').length;
  const warnings = findings.filter((f) => f.verdict === 'warning').length;
  return { ok: problems === 0, problems, warnings, settings, findings };
}

export async function diagnose(deps: DoctorDeps): Promise<DoctorReport> {
  let settings: Settings;
  try {
    settings = deps.loadSettings(deps.env);
  } catch (err) {
    return report(settingsShown(deps.env, null, deps.redact), [
      {
        area: 'settings',
        subject: 'the settings',
        verdict: 'problem',
        says: deps.redact(errorText(err)),
        hint: 'correct it in the settings (/etc/koha-message-center/kmc.env under systemd); nothing else is checked until they are valid',
      },
    ]);
  }
  const findings: Finding[] = [
    { area: 'settings', subject: 'the settings', verdict: 'ok', says: 'valid', hint: null },
    ...settingWarnings(deps.env, settings),
  ];

  const db = deps.openDatabase(settings);
  let branches: SmsBranchAccount[] = [];
  // The branches' own DKIM keys are checked as KMC_DKIM_KEYS are.
  const branchKeys: DkimKey[] = [];
  try {
    const status = await db.migrationStatus();
    const where = new URL(settings.databaseUrl);
    findings.push({
      area: 'database',
      subject: 'the database',
      verdict: 'ok',
      says: `reachable at ${where.hostname}:${where.port || 3306}, database ${where.pathname.slice(1)}`,
      hint: null,
    });
    findings.push(migrationFinding(status));
    try {
      findings.push(pluginFinding(settings, await db.pluginState(settings.pluginClass)));
    } catch (err) {
      findings.push({
        area: 'plugin',
        subject: `the Koha plugin (${settings.pluginClass})`,
        verdict: 'problem',
        says: errorCode(err) === 'ER_NO_SUCH_TABLE' ? 'this database has no Koha table plugin_data' : `cannot be read: ${errorText(err)}`,
        hint: "KMC_DATABASE_URL must name Koha's database, and the user needs SELECT on it (kmc grants)",
      });
    }
    try {
      findings.push(kohaJobsFinding(await db.kohaQueuedNotices()));
    } catch (err) {
      findings.push(
        notChecked('koha_jobs', KOHA_JOBS_SUBJECT, `Koha's message_queue cannot be read (${errorCode(err) ?? errorText(err)})`),
      );
    }
    try {
      findings.push(...addressFindings(await db.libraryAddresses(), settings.mailFrom));
    } catch (err) {
      findings.push(notChecked('addresses', "the library's addresses", `they cannot be read (${errorCode(err) ?? errorText(err)})`));
    }
    try {
      branches = await db.branchSmsAccounts();
      for (const b of db.branchDkimKeys ? await db.branchDkimKeys() : []) {
        const made = dkimKeyOf(b.domain, b.selector, b.privateKey, `branch ${b.branchcode}'s settings`);
        if (made.key) branchKeys.push(made.key);
        else
          findings.push({
            area: 'email',
            subject: `the DKIM key in branch ${b.branchcode}'s settings`,
            verdict: 'problem',
            says: `it cannot sign: ${made.problem}; its notices go unsigned (or with a key of KMC_DKIM_KEYS)`,
            hint: 'enter the domain, the selector and an RSA private key (PEM) again on the settings page',
          });
      }
    } catch (err) {
      findings.push(
        notChecked('sms', "the branches' SMS accounts", `kmc_branch_settings cannot be read (${errorCode(err) ?? errorText(err)})`),
      );
    }
  } catch (err) {
    findings.push(databaseFinding(settings, err));
    findings.push(notChecked('migrations', "the sidecar's tables (migrations)", 'the database cannot be used'));
    findings.push(notChecked('plugin', `the Koha plugin (${settings.pluginClass})`, 'the database cannot be used'));
  } finally {
    await db.close();
  }

  try {
    await deps.verifySmtp(settings);
    findings.push({
      area: 'email',
      subject: 'the mail server (KMC_SMTP_URL)',
      verdict: 'ok',
      says: `${hostOf(settings.smtpUrl)} answers and accepts us`,
      hint: null,
    });
  } catch (err) {
    findings.push(smtpFinding(settings, err));
  }
  findings.push(...(await dkimFindings(deps, [...settings.dkim, ...branchKeys])));
  findings.push(...(await smsFindings(deps, settings, branches)));
  findings.push(await printFinding(deps, settings));
  return report(settingsShown(deps.env, settings, deps.redact), findings);
}
