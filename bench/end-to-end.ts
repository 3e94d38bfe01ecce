/**
 * End to end: `kmc run overdue` then `kmc deliver --once` (whole processes,
 * SMSC answering in 2 ms) against the bare SELECT then the bare loops sending
 * as many e-mails and SMS as the sidecar sent, in turn. The bare e-mail loop
 * sends the content of one of the notices the run made (the one of median
 * size), so both sides put the same data on the wire.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext } from './context';
import { generationSql } from './generation';
import { inTurn, peak, ratios, seconds, spread, times, timeNode, type ProcessRun, type SectionResult } from './measure';

export async function endToEndSection(ctx: BenchContext): Promise<SectionResult> {
  const sql = await generationSql(ctx);
  let emails = 0;
  let sms = 0;
  let notices = 0;
  const noticeFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'kmc-bench-notice-')), 'notice.json');
  const sum = (runs: ProcessRun[]): ProcessRun => ({
    ms: runs.reduce((s, r) => s + r.ms, 0),
    rssMb: Math.max(...runs.map((r) => r.rssMb)),
    stdout: '',
  });
  // kmc goes first in the first round: the bare loops send what it sent.
  const runs = await inTurn(ctx.pairs, {
    kmc: async () => {
      await ctx.clearMessages();
      await ctx.settle();
      const env = ctx.kmcEnv(ctx.smscSlow);
      const [mailBefore, smsBefore] = [await ctx.smtp.count(), await ctx.smscSlow.count()];
      const run = await timeNode(['bin/kmc', 'run', 'overdue', '--date', ctx.today, '--json'], env);
      const deliver = await timeNode(['bin/kmc', 'deliver', '--once', '--json'], env);
      emails = (await ctx.smtp.count()) - mailBefore;
      sms = (await ctx.smscSlow.count()) - smsBefore;
      notices = (JSON.parse(run.stdout) as { created: number }).created;
      await writeMedianNotice(ctx, noticeFile);
      return sum([run, deliver]);
    },
    bare: async () => {
      await ctx.settle();
      const select = await timeNode(['bench/bare/select.mjs', ctx.databaseUrl], { ...process.env, KMC_BENCH_SQL: sql });
      const mail = await timeNode(['bench/bare/mail.mjs', String(ctx.smtp.port), String(emails), noticeFile], process.env);
      const smpp = await timeNode(['bench/bare/smpp.mjs', String(ctx.smscSlow.port), String(sms), String(ctx.smppWindow)], process.env);
      return sum([select, mail, smpp]);
    },
  });
  rmSync(path.dirname(noticeFile), { recursive: true, force: true });
  const ratio = ratios(runs.kmc, runs.bare, (k, b) => k.ms / b.ms);
  const misses = ratio.median > 1.25 ? [`end to end is ${ratio.median.toFixed(2)}× the bare SELECT and loops (aim ≤ 1.25×)`] : [];
  return {
    rows: [
      {
        what: `end to end: ${notices.toLocaleString('en')} notices made, ${emails.toLocaleString('en')} e-mails and ${sms.toLocaleString('en')} SMS (2 ms) sent, vs bare SELECT + loops`,
        kmc: seconds(spread(runs.kmc.map((r) => r.ms))),
        baseline: seconds(spread(runs.bare.map((r) => r.ms))),
        ratio: times(ratio),
        rss: `${peak(runs.kmc)} / ${peak(runs.bare)} MB`,
        aim: '≤ 1.25×',
        met: ratio.median <= 1.25,
      },
    ],
    misses,
    figures: { notices, emails, sms, kmcMs: runs.kmc.map((r) => Math.round(r.ms)), bareMs: runs.bare.map((r) => Math.round(r.ms)) },
  };
}

/** The subject, text and HTML of the e-mail notice of median size the run made, for the bare loop to send. */
async function writeMedianNotice(ctx: BenchContext, file: string): Promise<void> {
  const [{ n }] = await ctx.knex('kmc_messages').where({ channel: 'email' }).count<Array<{ n: number | string }>>({ n: '*' });
  const row = await ctx
    .knex('kmc_messages')
    .where({ channel: 'email' })
    .orderByRaw('LENGTH(body_html) + LENGTH(body_text)')
    .offset(Math.floor(Number(n) / 2))
    .first<{ subject: string; body_text: string; body_html: string | null } | undefined>('subject', 'body_text', 'body_html');
  if (!row) throw new Error('the run made no e-mail notice');
  writeFileSync(file, JSON.stringify({ subject: row.subject, text: row.body_text, html: row.body_html }));
}
