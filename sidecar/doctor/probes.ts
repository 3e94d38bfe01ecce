/**
 * The real things the doctor looks at: the database through the sidecar's
 * own readers, the mail server through the e-mail channel, each SMS account
 * through an SMPP client that binds and unbinds. Short time-outs: the doctor
 * answers in seconds, also when a server does not.
 */
import { access, constants, stat } from 'node:fs/promises';
import { promises as dns } from 'node:dns';
import path from 'node:path';
import { loadSettings, redact, type Settings } from '../config';
import { createKnex, migrationStatus } from '../db';
import { createHostReader, KOHA_JOBS_DAYS, KOHA_JOB_LETTER_PREFIXES } from '../host';
import { SENDER_PREFERENCES } from '../addresses';
import { BranchSettingsStore } from '../branches';
import { SettingsStore } from '../settings';
import { SmtpAdapter, SmppClient, accountLabel, branchSettingsSource } from '../channels';
import type { DoctorDatabase, DoctorDeps } from './diagnose';

const PROBE_TIMEOUT_MS = 10_000;

function openDatabase(settings: Settings): DoctorDatabase {
  const knex = createKnex(settings.databaseUrl, { poolMax: 1, quiet: true });
  // The doctor changes nothing: it reads whether the plugin was seen, and notes nothing.
  const staffSettings = new SettingsStore(knex);
  const host = createHostReader(knex, {
    seen: { has: (name) => staffSettings.has(name) },
    withoutPlugin: settings.withoutPlugin,
    now: () => new Date(),
  });
  const accounts = branchSettingsSource(knex);
  return {
    migrationStatus: () => migrationStatus(knex),
    pluginState: (pluginClass) => host.pluginState(pluginClass),
    kohaQueuedNotices: async () => ({ days: KOHA_JOBS_DAYS, rows: await host.kohaQueuedNotices(KOHA_JOBS_DAYS, KOHA_JOB_LETTER_PREFIXES) }),
    branchSmsAccounts: () => accounts.branchAccounts(),
    branchDkimKeys: async () =>
      (await new BranchSettingsStore(knex).mailWithKeys()).flatMap((b) =>
        b.dkim ? [{ branchcode: b.branchcode, domain: b.dkim.domain, selector: b.dkim.selector, privateKey: b.dkim.privateKey }] : [],
      ),
    libraryAddresses: async () => {
      const [branches, own, preferences] = await Promise.all([
        host.branches(),
        new BranchSettingsStore(knex).all(),
        host.systemPreferences([...SENDER_PREFERENCES]),
      ]);
      return { branches: [...branches.values()], own, preferences };
    },
    close: () => knex.destroy(),
  };
}

async function verifySmtp(settings: Settings): Promise<void> {
  const smtp = new SmtpAdapter({ url: settings.smtpUrl, maxConnections: 1, timeoutMs: PROBE_TIMEOUT_MS });
  try {
    await smtp.verify();
  } finally {
    await smtp.stop();
  }
}

async function bindSms(url: string, settings: Settings): Promise<void> {
  const client = new SmppClient(url, {
    bindMode: settings.sms.bindMode,
    pduTimeoutMs: Math.min(settings.sms.pduTimeoutMs, PROBE_TIMEOUT_MS),
    connectTimeoutMs: PROBE_TIMEOUT_MS,
    enquireLinkMs: 0,
    tls: settings.sms.tls,
    ...(settings.sms.caFile ? { ca: settings.sms.caFile } : {}),
  });
  // start() binds every session or rejects; stop() unbinds and closes.
  await client.start();
  await client.stop();
}

async function checkWritable(dir: string): Promise<void> {
  const full = path.resolve(dir);
  if (!(await stat(full)).isDirectory()) throw new Error(`${full} is not a folder`);
  await access(full, constants.W_OK);
}

/** One try, a few seconds: a machine without DNS gets its answer quickly. */
function resolveTxt(name: string): Promise<string[][]> {
  return new dns.Resolver({ timeout: 3000, tries: 1 }).resolveTxt(name);
}

export function doctorDeps(env: NodeJS.ProcessEnv): DoctorDeps {
  return { env, loadSettings, openDatabase, verifySmtp, bindSms, checkWritable, accountLabel, redact, resolveTxt };
}
