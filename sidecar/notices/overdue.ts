/**
 * Overdue notices, level 1: one streaming query selects every loan overdue by
 * at least the smallest rule delay, rules are applied in memory, and the
 * messages are written in batches. A loan is covered once per level: the
 * coverage key in kmc_message_items makes that a database fact.
 */
import { createHash } from 'node:crypto';
import type { OverdueLoan, PatronContact } from '../host';
import { resolveRule, type Rule } from '../rules';
import { chooseChannel, patronEmail } from '../contact';
import type { NewMessage } from '../queue';
import { addDays, asKohaDateFormat, daysBetween, formatAmount, formatKohaDate, type KohaDateFormat } from '../rendering/dates';
import { BranchDirectory, patronTemplateData, type EmailGateState, type NoticeDeps } from './context';
import { countInto, type RunStats } from './runs';
import { KmcError } from '../errors';

export const OVERDUE_LEVEL = 1;
const PATRONS_PER_BATCH = 500;

export interface GenerateArgs {
  runId: number | null;
  runDate: string;
  branchcode: string | null;
  dryRun: boolean;
  automated: boolean;
  actor: string;
  /** A general text for patrons that goes into every message except SMS. */
  messageToPatrons?: string | null;
}

export function coverageKey(type: string, level: number, kind: 'issue' | 'hold', id: number): string {
  return `${type}:${level}:${kind}:${id}`;
}

export function idempotencyKey(type: string, level: number, borrowernumber: number, coverage: string[]): string {
  const digest = createHash('sha256').update([...coverage].sort().join(',')).digest('hex').slice(0, 24);
  return `${type}:${level}:${borrowernumber}:${digest}`;
}

interface Candidate {
  loan: OverdueLoan;
  rule: Rule;
  coverage: string;
}

/** Receives each batch of new messages as it is made, so a large run never holds them all. */
export type MessageSink = (messages: NewMessage[]) => Promise<void>;

export async function generateOverdue(deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink): Promise<void> {
  const rules = (await deps.rules.forType('overdue', OVERDUE_LEVEL));
  if (!rules.some((r) => r.is_baseline)) {
    throw new KmcError('KMC_NO_BASELINE_RULE', 'no baseline rule for overdue level 1; run `kmc migrate` to restore it');
  }
  const used = rules.filter((r) => r.is_used);
  if (!used.length) return;
  const minDelay = Math.min(...used.map((r) => r.delay_days));
  const dueBefore = `${addDays(args.runDate, -minDelay + 1)} 00:00:00`;

  const directory = await BranchDirectory.load(deps);
  const prefs = await deps.host.systemPreferences(['dateformat']);
  const dateFormat = asKohaDateFormat(prefs.dateformat);
  await deps.renderer.refresh();

  let group: Candidate[] = [];
  let pending: Candidate[][] = [];

  const flush = async () => {
    if (!pending.length) return;
    const all = pending.flat();
    const covered = await deps.store.coveredKeys(all.map((c) => c.coverage));
    const gate = await emailStates(deps, pending.map((g) => g[0].loan));
    const made: NewMessage[] = [];
    for (const patronCandidates of pending) {
      const open = patronCandidates.filter((c) => !covered.has(c.coverage));
      const already = patronCandidates.length - open.length;
      if (already) {
        countInto(stats.skippedBy, 'already_notified', already);
        stats.skipped += already;
      }
      if (open.length) made.push(...buildMessages(deps, directory, dateFormat, args, open, gate.get(open[0].loan.borrowernumber)));
    }
    pending = [];
    if (made.length) await sink(made);
  };

  const closeGroup = async () => {
    if (group.length) pending.push(group);
    group = [];
    if (pending.length >= PATRONS_PER_BATCH) await flush();
  };

  for await (const loan of deps.host.streamOverdueLoans({ dueBefore, branchcode: args.branchcode })) {
    if (group.length && group[0].loan.borrowernumber !== loan.borrowernumber) await closeGroup();
    const skip = (why: string) => {
      stats.skipped += 1;
      countInto(stats.skippedBy, why);
    };
    if (loan.overduenoticerequired !== null && Number(loan.overduenoticerequired) === 0) {
      skip('category_gets_no_overdue_notices');
      continue;
    }
    const ruleBranch = loan.issue_branchcode ?? loan.homebranch;
    if (args.automated && directory.excludedFromAutomatedRuns(ruleBranch)) {
      skip('branch_excluded_from_automated_runs');
      continue;
    }
    const rule = resolveRule(rules, { branchcode: ruleBranch, categorycode: loan.categorycode, itemtype: loan.itype, date: args.runDate });
    if (!rule || !rule.is_used) {
      skip('level_not_used');
      continue;
    }
    if (daysBetween(loan.date_due.slice(0, 10), args.runDate) < rule.delay_days) {
      skip('not_yet_due_for_notice');
      continue;
    }
    group.push({ loan, rule, coverage: coverageKey('overdue', OVERDUE_LEVEL, 'issue', loan.issue_id) });
  }
  await closeGroup();
  await flush();
}

/** Asks the e-mail gate, once per batch, about the patrons that have a usable address. */
export async function emailStates(deps: NoticeDeps, patrons: PatronContact[]): Promise<Map<number, EmailGateState>> {
  if (!deps.emailGate) return new Map();
  const ask: Array<{ borrowernumber: number; email: string }> = [];
  for (const p of patrons) {
    const email = patronEmail(p);
    if (email) ask.push({ borrowernumber: p.borrowernumber, email });
  }
  return ask.length ? deps.emailGate.check(ask) : new Map();
}

/** One patron's open loans become one message per rule (digest) or one per loan. */
function buildMessages(
  deps: NoticeDeps,
  directory: BranchDirectory,
  dateFormat: KohaDateFormat,
  args: GenerateArgs,
  candidates: Candidate[],
  emailState: EmailGateState | undefined,
): NewMessage[] {
  const groups = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const key = c.rule.digest ? `rule:${c.rule.id}` : `loan:${c.loan.issue_id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  const patron: PatronContact = candidates[0].loan;
  const out: NewMessage[] = [];
  for (const list of groups.values()) {
    const rule = list[0].rule;
    const fee = rule.fee_per_notice + rule.fee_per_item * list.length;
    const choice = chooseChannel(rule.channels, patron, { defaultCountry: deps.settings.defaultCountry, available: deps.availableChannels, emailState });
    const channel = choice.ok ? choice.channel : rule.channels[0] ?? 'print';
    const data = {
      patron: patronTemplateData(patron),
      branch: directory.templateData(patron.branchcode),
      address: choice.ok && choice.channel === 'print' ? choice.to : '',
      items: list.map((c) => ({
        title: c.loan.biblio_title ?? '',
        author: c.loan.author ?? '',
        barcode: c.loan.barcode ?? '',
        callnumber: c.loan.itemcallnumber ?? '',
        due: formatKohaDate(c.loan.date_due, dateFormat),
      })),
      level: OVERDUE_LEVEL,
      fee,
      fee_text: formatAmount(fee, null),
      today: formatKohaDate(args.runDate, dateFormat),
      message: channel === 'sms' ? '' : args.messageToPatrons ?? '',
    };
    const rendered = deps.renderer.render({
      type: 'overdue',
      channel,
      langs: directory.langsFor(patron),
      branchcode: patron.branchcode,
      data,
    });
    const coverage = list.map((c) => c.coverage);
    out.push({
      idempotencyKey: idempotencyKey('overdue', OVERDUE_LEVEL, patron.borrowernumber, coverage),
      messageType: 'overdue',
      level: OVERDUE_LEVEL,
      borrowernumber: patron.borrowernumber,
      branchcode: patron.branchcode,
      channel,
      status: !choice.ok ? 'missing_contact' : choice.held ? 'held' : 'pending',
      statusReason: !choice.ok ? choice.reason : choice.held ?? null,
      to: choice.ok ? choice.to : null,
      from: channel === 'email' ? directory.senderEmail(patron.branchcode) : directory.branch(patron.branchcode)?.branchname ?? null,
      replyTo: channel === 'email' ? directory.replyTo(patron.branchcode) : null,
      lang: rendered.lang,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      fee,
      runId: args.runId,
      ruleId: rule.id,
      items: list.map((c) => ({
        coverageKey: c.coverage,
        issueId: c.loan.issue_id,
        itemnumber: c.loan.itemnumber,
        biblionumber: c.loan.biblionumber,
        barcode: c.loan.barcode,
        title: c.loan.biblio_title,
        author: c.loan.author,
        dateDue: c.loan.date_due,
        fee: rule.fee_per_item,
      })),
    });
  }
  return out;
}
