/**
 * Delivery throughput: the sidecar's pipeline (queue in MariaDB, claim,
 * send, record) next to a bare loop on the same servers in the same run:
 * e-mail to an in-process SMTP server against a bare nodemailer pool loop,
 * SMS to an in-process SMSC against a bare `smpp` submit loop with the same
 * window. The bare loops store nothing; the ratio says what the queue costs.
 *
 * Run alone: npx tsx bench/delivery.ts [--emails N] [--sms N]
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createTransport, type TransportOptions } from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import * as smpp from 'smpp';
import { loadSettings } from '../sidecar/config';
import { createKnex, dropDatabase, migrate, recreateDatabase } from '../sidecar/db';
import { messageOfError } from '../sidecar/errors';
import { createKohaFixtureSchema } from '../sidecar/fixture';
import { createLogger } from '../sidecar/logging';
import { createApp } from '../sidecar/main';
import type { NewMessage } from '../sidecar/queue';
import { CaptureSmsc } from '../sidecar/demo/capture-smsc';
import { planSms } from '../sidecar/channels/smpp';

export interface DeliveryBenchOptions {
  /** Database to build (dropped and made again; its name must start with kmc_bench). */
  databaseUrl?: string;
  emails?: number;
  sms?: number;
  /** SMPP window for both the pipeline and the bare loop. */
  window?: number;
  /** Rounds per measurement; the median is reported (default 3). */
  rounds?: number;
  /**
   * Also measure SMS with an SMSC that answers each submit after this long,
   * as a real one does (default 2 ms); 0 measures only the instant SMSC.
   */
  smscLatencyMs?: number;
  out?: (line: string) => void;
}

export interface ThroughputPair {
  messages: number;
  /** Messages a second through the sidecar's pipeline. */
  pipeline: number;
  /** Messages a second through the bare loop on the same server. */
  bare: number;
  /** pipeline / bare. */
  ratio: number;
}

export interface DeliveryBenchResult {
  email: ThroughputPair;
  sms: ThroughputPair;
  /** SMS against an SMSC that answers after smscLatencyMs. */
  smsWithLatency?: ThroughputPair & { latencyMs: number };
}

const DEFAULT_DATABASE_URL = 'mysql://root@127.0.0.1:3306/kmc_bench_delivery';

const MAIL_TEXT =
  'Dear patron,\n\nThe following loans are overdue:\n\n- Röda rummet (Strindberg, August), due 2026-11-10\n- Gösta Berlings saga (Lagerlöf, Selma), due 2026-11-15\n\nPlease return or renew them.\n\nCentralbiblioteket\n';
const MAIL_HTML = `<p>Dear patron,</p><p>The following loans are overdue:</p><ul><li>Röda rummet</li><li>Gösta Berlings saga</li></ul><p>Centralbiblioteket</p>`;
const SMS_TEXT = 'Centralbiblioteket: 2 loans are overdue (Röda rummet, Gösta Berlings saga). Please return or renew them.';

/** An SMTP server that takes every message and keeps only a count, so the server is not what is measured. */
async function startSink(): Promise<{ url: string; port: number; count: () => number; stop: () => Promise<void> }> {
  let n = 0;
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        n += 1;
        callback(null);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}?tls=off`,
    port,
    count: () => n,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

function rate(n: number, ms: number): number {
  return Math.round((n / Math.max(ms, 1)) * 1000);
}

/** Bare nodemailer: the same pooled transport settings, every message handed to the pool at once. */
async function bareMail(url: string, n: number, tag: string): Promise<number> {
  const u = new URL(url);
  const transport = createTransport({
    pool: true,
    host: u.hostname,
    port: Number(u.port),
    secure: false,
    ignoreTLS: true,
    maxConnections: 5,
    maxMessages: 500,
  } as TransportOptions);
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        transport.sendMail({
          from: 'central@bibliotek.example.org',
          to: `patron${i}@example.org`,
          subject: `Overdue ${tag} ${i}`,
          text: MAIL_TEXT,
          html: MAIL_HTML,
        }),
      ),
    );
    return performance.now() - started;
  } finally {
    transport.close();
  }
}

/** Bare smpp: one transceiver bind, `window` submit_sm in flight, no bookkeeping. */
async function bareSms(port: number, n: number, window: number): Promise<number> {
  const session = smpp.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    session.once('error', reject);
    session.once('connect', () => {
      session.send(new smpp.PDU('bind_transceiver', { system_id: 'kmc', password: 'secret' }), (resp) => {
        if (resp.command_status === 0) resolve();
        else reject(new Error(`bind refused: ${resp.command_status}`));
      });
    });
  });
  session.on('pdu', (pdu: smpp.PDU) => {
    if (pdu.command === 'deliver_sm' || pdu.command === 'enquire_link') session.send(pdu.response());
  });
  const plan = planSms(SMS_TEXT);
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next += 1;
      await new Promise<void>((resolve, reject) => {
        const ok = session.send(
          new smpp.PDU('submit_sm', {
            source_addr_ton: 5,
            source_addr: 'Library',
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: `4670${String(1000000 + next)}`,
            registered_delivery: 1,
            data_coding: plan.dataCoding,
            short_message: plan.parts[0],
          }),
          (resp) => {
            if (resp.command_status === 0) resolve();
            else reject(new Error(`submit refused: ${resp.command_status}`));
          },
        );
        if (!ok) reject(new Error('session closed'));
      });
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const elapsed = performance.now() - started;
  await new Promise<void>((resolve) => {
    session.send(new smpp.PDU('unbind', {}), () => {
      resolve();
    });
    setTimeout(resolve, 500);
  });
  session.destroy();
  return elapsed;
}

function messages(channel: 'email' | 'sms', n: number, tag: string): NewMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    idempotencyKey: `bench:${tag}:${channel}:${i}`,
    messageType: 'overdue',
    level: 1,
    borrowernumber: 100000 + i,
    branchcode: 'CPL',
    channel,
    status: 'pending' as const,
    to: channel === 'email' ? `patron${i}@example.org` : `+4670${String(1000000 + i)}`,
    from: channel === 'email' ? 'central@bibliotek.example.org' : 'Library',
    lang: 'en',
    subject: `Overdue ${tag} ${i}`,
    text: channel === 'email' ? MAIL_TEXT : SMS_TEXT,
    html: channel === 'email' ? MAIL_HTML : null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
  }));
}

export async function runDeliveryBench(opts: DeliveryBenchOptions = {}): Promise<DeliveryBenchResult> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const databaseUrl = opts.databaseUrl ?? process.env.KMC_BENCH_DELIVERY_DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const emails = opts.emails ?? 3000;
  const smsCount = opts.sms ?? 3000;
  const window = opts.window ?? 10;
  const rounds = opts.rounds ?? 3;
  const latency = opts.smscLatencyMs ?? 2;

  await recreateDatabase(databaseUrl, { prefix: 'kmc_bench', code: 'KMC_BENCH_REFUSED', what: 'the benchmark' });
  const setup = createKnex(databaseUrl);
  try {
    await createKohaFixtureSchema(setup);
    await migrate(setup);
  } finally {
    await setup.destroy();
  }

  const sink = await startSink();
  const smsc = await CaptureSmsc.start({ systemId: 'kmc', password: 'secret' });
  const printDir = mkdtempSync(path.join(os.tmpdir(), 'kmc-bench-print-'));
  const settings = loadSettings({
    KMC_DATABASE_URL: databaseUrl,
    KMC_SMTP_URL: sink.url,
    KMC_SMPP_URL: smsc.url,
    KMC_SMPP_WINDOW: String(window),
    KMC_PRINT_DIR: printDir,
    KMC_LOG_LEVEL: 'warn',
  });
  const services = createApp(settings, { logger: createLogger('warn') });
  try {
    await services.startChannels();

    const pipeline = async (channel: 'email' | 'sms', n: number, tag: string): Promise<number> => {
      await services.store.insertMessages(messages(channel, n, tag), new Date(), 'bench');
      const started = performance.now();
      const stats = await services.worker.deliverOnce();
      const elapsed = performance.now() - started;
      if (stats.sent !== n) throw new Error(`pipeline sent ${stats.sent} of ${n} ${channel} messages (${JSON.stringify(stats)})`);
      return elapsed;
    };

    // Warm-up: connections, JIT and the database's buffers, for both sides alike.
    await pipeline('email', 200, 'warm');
    await bareMail(sink.url, 200, 'warm');
    await pipeline('sms', 200, 'warm');
    await bareSms(smsc.port, 200, window);

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    /** Alternates which side goes first, round by round, so neither always meets a warmer machine. */
    const compare = async (n: number, bare: () => Promise<number>, pipe: (round: number) => Promise<number>): Promise<ThroughputPair> => {
      const pipeRates: number[] = [];
      const bareRates: number[] = [];
      for (let round = 0; round < rounds; round += 1) {
        if (round % 2 === 0) {
          bareRates.push(rate(n, await bare()));
          pipeRates.push(rate(n, await pipe(round)));
        } else {
          pipeRates.push(rate(n, await pipe(round)));
          bareRates.push(rate(n, await bare()));
        }
      }
      const p = median(pipeRates);
      const b = median(bareRates);
      return { messages: n, pipeline: p, bare: b, ratio: Math.round((p / b) * 100) / 100 };
    };

    const mailBefore = sink.count();
    const email = await compare(
      emails,
      () => bareMail(sink.url, emails, 'bare'),
      (r) => pipeline('email', emails, `pipe${r}`),
    );
    if (sink.count() - mailBefore !== 2 * rounds * emails)
      throw new Error(`the SMTP server got ${sink.count() - mailBefore} messages, expected ${2 * rounds * emails}`);
    out(
      `  e-mail  ${emails} messages: pipeline ${email.pipeline}/s, bare nodemailer pool ${email.bare}/s (${Math.round(email.ratio * 100)}%)`,
    );

    const smsBefore = smsc.messages.length;
    const sms = await compare(
      smsCount,
      () => bareSms(smsc.port, smsCount, window),
      (r) => pipeline('sms', smsCount, `pipe${r}`),
    );
    if (smsc.messages.length - smsBefore !== 2 * rounds * smsCount)
      throw new Error(`the SMSC got ${smsc.messages.length - smsBefore} messages, expected ${2 * rounds * smsCount}`);
    out(
      `  SMS     ${smsCount} messages, SMSC answers at once: pipeline ${sms.pipeline}/s, bare smpp loop ${sms.bare}/s (${Math.round(sms.ratio * 100)}%), window ${window}`,
    );
    const result: DeliveryBenchResult = { email, sms };

    if (latency > 0) {
      smsc.setResponseDelay(latency);
      const slow = await compare(
        smsCount,
        () => bareSms(smsc.port, smsCount, window),
        (r) => pipeline('sms', smsCount, `slow${r}`),
      );
      smsc.setResponseDelay(0);
      result.smsWithLatency = { ...slow, latencyMs: latency };
      out(
        `  SMS     ${smsCount} messages, SMSC answers after ${latency} ms: pipeline ${slow.pipeline}/s, bare smpp loop ${slow.bare}/s (${Math.round(slow.ratio * 100)}%), window ${window}`,
      );
    }
    return result;
  } finally {
    await services.close();
    await smsc.close();
    await sink.stop();
    rmSync(printDir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
  }
}

/** The delivery section of `npm run bench`'s summary. */
export function printDeliveryBench(f: Record<string, unknown>, out: (line: string) => void): void {
  const r = f as unknown as DeliveryBenchResult;
  const line = (label: string, p: ThroughputPair, bare: string) => {
    out(`  ${label.padEnd(44)} ${String(p.pipeline).padStart(6)}/s vs ${bare} ${p.bare}/s  (${Math.round(p.ratio * 100)}%; aim >= 80%)`);
  };
  out('');
  out('  delivery: the pipeline next to a bare loop, same server, same run');
  out('  ------------------------------------------------------------');
  line(`e-mail, ${r.email.messages} messages`, r.email, 'bare nodemailer pool');
  line(`SMS, ${r.sms.messages} messages, SMSC answers at once`, r.sms, 'bare smpp loop');
  if (r.smsWithLatency) line(`SMS, SMSC answers after ${r.smsWithLatency.latencyMs} ms`, r.smsWithLatency, 'bare smpp loop');
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      emails: { type: 'string' },
      sms: { type: 'string' },
      window: { type: 'string' },
      rounds: { type: 'string' },
      latency: { type: 'string' },
    },
  });
  process.stdout.write('== delivery\n');
  runDeliveryBench({
    emails: values.emails ? Number(values.emails) : undefined,
    sms: values.sms ? Number(values.sms) : undefined,
    window: values.window ? Number(values.window) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    smscLatencyMs: values.latency ? Number(values.latency) : undefined,
  }).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench: ${messageOfError(err)}\n`);
      process.exit(1);
    },
  );
}
