/**
 * Delivery: the whole `node bin/kmc deliver --once` process, on a queue
 * filled beforehand, against bare loops as whole processes on the same
 * servers (each in its own process): a nodemailer pool loop for e-mail, a
 * windowed `smpp` loop for SMS with an SMSC answering in 2 ms and at once.
 */
import type { NewMessage } from '../sidecar/queue';
import type { BenchContext } from './context';
import {
  inTurn,
  peak,
  percent,
  perSecond,
  ratios,
  spread,
  timeNode,
  type ProcessRun,
  type SectionResult,
  type ServerProcess,
} from './measure';

const MAIL_TEXT =
  'Dear patron,\n\nThe following loans are overdue:\n\n- Röda rummet (Strindberg, August), due 2026-11-10\n- Gösta Berlings saga (Lagerlöf, Selma), due 2026-11-15\n\nPlease return or renew them.\n\nCentralbiblioteket\n';
const MAIL_HTML = `<p>Dear patron,</p><p>The following loans are overdue:</p><ul><li>Röda rummet</li><li>Gösta Berlings saga</li></ul><p>Centralbiblioteket</p>`;
const SMS_TEXT = 'Centralbiblioteket: 2 loans are overdue (Röda rummet, Gösta Berlings saga). Please return or renew them.';

/** The same notices the bare loops send, queued as a run would queue them. */
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
    subject: `Overdue notice ${i}`,
    text: channel === 'email' ? MAIL_TEXT : SMS_TEXT,
    html: channel === 'email' ? MAIL_HTML : null,
    fee: 0,
    runId: null,
    ruleId: null,
    items: [],
  }));
}

/** Runs a step and checks that the server got exactly `n` messages from it. */
async function counted(server: ServerProcess, n: number, step: () => Promise<ProcessRun>): Promise<ProcessRun> {
  const before = await server.count();
  const run = await step();
  const got = (await server.count()) - before;
  if (got !== n) throw new Error(`the server got ${got} messages, expected ${n}`);
  return run;
}

export async function deliverySection(ctx: BenchContext): Promise<SectionResult> {
  const emails = ctx.small ? 2000 : 5000;
  const sms = ctx.small ? 3000 : 8000;
  const cases = [
    {
      label: 'e-mail',
      channel: 'email' as const,
      n: emails,
      server: ctx.smtp,
      smsc: ctx.smscSlow,
      aim: 0.85,
      bare: 'nodemailer pool loop',
    },
    {
      label: 'SMS, SMSC answers in 2 ms',
      channel: 'sms' as const,
      n: sms,
      server: ctx.smscSlow,
      smsc: ctx.smscSlow,
      aim: 0.85,
      bare: 'windowed smpp loop',
    },
    {
      label: 'SMS, SMSC answers at once',
      channel: 'sms' as const,
      n: sms,
      server: ctx.smscInstant,
      smsc: ctx.smscInstant,
      aim: 0.6,
      bare: 'windowed smpp loop',
    },
  ];
  const result: SectionResult = { rows: [], misses: [], figures: {} };
  let round = 0;
  for (const c of cases) {
    const bareArgs =
      c.channel === 'email'
        ? ['bench/bare/mail.mjs', String(c.server.port), String(c.n)]
        : ['bench/bare/smpp.mjs', String(c.server.port), String(c.n), String(ctx.smppWindow)];
    const runs = await inTurn(ctx.pairs, {
      bare: () => counted(c.server, c.n, () => timeNode(bareArgs, process.env)),
      kmc: async () => {
        await ctx.clearMessages();
        await ctx.app.store.insertMessages(messages(c.channel, c.n, `r${(round += 1)}`), new Date(), 'bench');
        await ctx.settle();
        const run = await counted(c.server, c.n, () => timeNode(['bin/kmc', 'deliver', '--once', '--json'], ctx.kmcEnv(c.smsc)));
        const report = JSON.parse(run.stdout) as { sent: number };
        if (report.sent !== c.n) throw new Error(`kmc deliver sent ${report.sent} of ${c.n}: ${run.stdout}`);
        return run;
      },
    });
    const rate = (r: ProcessRun) => c.n / (r.ms / 1000);
    const ratio = ratios(runs.kmc, runs.bare, (k, b) => b.ms / k.ms);
    if (ratio.median < c.aim)
      result.misses.push(
        `${c.label}: kmc deliver reaches ${Math.round(ratio.median * 100)}% of the bare ${c.bare} (aim ≥ ${c.aim * 100}%)`,
      );
    result.rows.push({
      what: `kmc deliver --once vs bare ${c.bare}: ${c.label}, ${c.n.toLocaleString('en')} messages`,
      kmc: perSecond(spread(runs.kmc.map(rate))),
      baseline: perSecond(spread(runs.bare.map(rate))),
      ratio: percent(ratio),
      rss: `${peak(runs.kmc)} / ${peak(runs.bare)} MB`,
      aim: `≥ ${c.aim * 100}%`,
      met: ratio.median >= c.aim,
    });
    result.figures[c.label] = {
      messages: c.n,
      kmcMs: runs.kmc.map((r) => Math.round(r.ms)),
      bareMs: runs.bare.map((r) => Math.round(r.ms)),
    };
  }
  return result;
}
