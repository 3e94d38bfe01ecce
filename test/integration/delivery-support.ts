/**
 * What the delivery tests share: a scratch Koha database with the real SMTP
 * sink, the real test SMSC and a letters folder around it; `kmc deliver
 * --once` as a child process that a test may kill; an SMS for the queue.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKohaDatabase } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { TestSmsc, type TestSmscOptions } from '../support/smsc';
import { kmcEnvironment, spawnKmc } from '../support/cli';
import { migrate } from '../../sidecar/db';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import type { NewMessage } from '../../sidecar/queue';

export interface DeliveryWorld {
  db: ScratchDatabase;
  smsc: TestSmsc;
  smtp: MailCapture;
  printDir: string;
  /** Worker processes started, killed at the end if still running. */
  children: ChildProcess[];
}

/** Settings for `kmc` pointed at this world's database, servers and letters folder, plus the given ones. */
export function workerEnv(world: DeliveryWorld, over: Record<string, string>): Record<string, string> {
  return {
    KMC_DATABASE_URL: world.db.url,
    KMC_SMTP_URL: world.smtp.url,
    KMC_SMPP_URL: world.smsc.url,
    KMC_PRINT_DIR: world.printDir,
    KMC_LOG_LEVEL: 'error',
    KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
    // Tests that wait for SMS receipts under --once say so.
    KMC_SMS_RECEIPT_WAIT_SECONDS: '0',
    ...over,
  };
}

/** Registers before/after hooks that build and tear down the world; read its parts inside the tests. */
export function deliveryWorld(label: string, smscOptions: TestSmscOptions = {}): DeliveryWorld {
  const world = { children: [] as ChildProcess[] } as unknown as DeliveryWorld;
  before(async () => {
    world.db = await createKohaDatabase(label);
    await migrate(world.db.knex);
    world.smsc = await TestSmsc.start(smscOptions);
    world.smtp = new MailCapture();
    await world.smtp.start();
    world.printDir = mkdtempSync(path.join(os.tmpdir(), `kmc-${label}-print-`));
  });
  after(async () => {
    for (const c of world.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await world.smtp.stop();
    await world.smsc.close();
    rmSync(world.printDir, { recursive: true, force: true });
    await world.db.drop();
  });
  return world;
}

export interface WorkerProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `kmc deliver --once --json` with exactly these settings. */
export function startWorker(env: Record<string, string>, children?: ChildProcess[]): WorkerProcess {
  const child = spawnKmc(['deliver', '--once', '--json'], { env: kmcEnvironment(env) });
  children?.push(child);
  const run: WorkerProcess = {
    child,
    stdout: [],
    stderr: [],
    exit: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        resolve({ code, signal });
      });
    }),
  };
  child.stdout?.on('data', (d: Buffer) => run.stdout.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => run.stderr.push(d.toString()));
  return run;
}

let serial = 0;

/** An SMS due now, to a number of its own. */
export function smsMessage(text: string, over: Partial<NewMessage> = {}): NewMessage {
  serial += 1;
  return {
    idempotencyKey: `test:sms:${String(serial)}:${Math.random().toString(36).slice(2)}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 1000 + serial,
    branchcode: 'CPL',
    channel: 'sms',
    status: 'pending',
    to: `+4670${String(1_000_000 + serial)}`,
    from: 'Centralbiblioteket',
    lang: 'en',
    subject: '',
    text,
    html: null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
    ...over,
  };
}

/** Polls until the check holds; fails with `what` after the time-out. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
