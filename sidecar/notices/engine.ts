/**
 * What every generator shares: the run's context (read once per run), the
 * batch pipeline over a streaming query, and the composer that turns what a
 * generator decided (one unit per loan, hold or patron) into stored
 * messages: exactly one channel each (unless the rule says all), the e-mail
 * gate, SMS quiet hours, approval, the patron's language, and the plain data
 * each message was rendered from.
 */
import { createHash, hash } from 'node:crypto';
import type { PatronContact } from '../host';
import { loadEngineSettings, resolveRule, type EngineSettings, type MessageType, type Rule, type RuleSubject } from '../rules';
import { chooseAllChannels, chooseChannel, patronEmail, type ChannelChoice } from '../contact';
import type { ChannelName } from '../kernel';
import { ClosedDays, placeMessage, QuietHours, type MessageStore, type NewMessage, type NewMessageItem } from '../queue';
import { fromDbTime } from '../db';
import { libraryDay } from '../kernel';
import {
  RenderBudgetExceeded,
  asKohaDateFormat,
  asKohaTimeFormat,
  formatKohaDate,
  formatKohaTime,
  type KohaDateFormat,
  type KohaTimeFormat,
} from '../rendering';
import { TemplateError, KmcError } from '../errors';
import { BranchDirectory, patronTemplateData, type EmailGateState, type NoticeDeps } from './context';
import { asCurrencyFormat, formatMoney, type MoneyStyle } from './format';
import { countInto, MAX_LISTED_RECORDS, type RunStats, type SkippedRecord } from './runs';

import type { RoutineCriteria } from '../scheduling';
export type { RoutineCriteria };

export interface GenerateArgs {
  runId: number | null;
  runDate: string;
  branchcode: string | null;
  dryRun: boolean;
  automated: boolean;
  actor: string;
  /** A general text for patrons that goes into every message except SMS. */
  messageToPatrons?: string | null;
  /** Overdue: only this level (a routine for one level); absent = whichever level is due. */
  level?: number | null;
  criteria?: RoutineCriteria | null;
  /** Messages wait for staff (`proposed`) instead of going to the queue. */
  needsApproval?: boolean;
  routineId?: number | null;
  routineName?: string | null;
  /** Hold notices: also for holds already waiting before the first run (Koha told those patrons at check-in). */
  includeExisting?: boolean;
}

/** Receives each batch of new messages as it is made, so a large run never holds them all. */
export type MessageSink = (messages: NewMessage[]) => Promise<void>;

export type CoverageKind = 'issue' | 'hold' | 'patron';

export function coverageKey(type: string, level: number, kind: CoverageKind, id: number): string {
  return `${type}:${level}:${kind}:${id}`;
}

/**
 * A loan's coverage for one due date: a renewal that moves the due date
 * starts the loan over (level 1 again, a new pre-due reminder). `variant`
 * tells two notices of one kind apart (the due-day reminder beside the
 * advance one).
 */
export function loanCoverageKey(type: string, level: number, issueId: number, dateDue: string, variant?: string): string {
  const due = dateDue.slice(0, 16).replace(/[-:]/g, '').replace(' ', 'T');
  return `${coverageKey(type, level, 'issue', issueId)}:due:${due}${variant ? `:${variant}` : ''}`;
}

/** SHA-256 in hex: the one-shot form where Node has it (from 20.12), a third of the time of a Hash object. */
const sha256Hex: (text: string) => string =
  typeof hash === 'function' ? (text) => hash('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');

export function idempotencyKey(type: string, level: number, borrowernumber: number, coverage: string[]): string {
  const digest = sha256Hex([...coverage].sort().join(',')).slice(0, 24);
  return `${type}:${level}:${borrowernumber}:${digest}`;
}

/**
 * Small batches keep the process small: what is in flight (rows read ahead,
 * messages being made and written) is what the garbage collector keeps
 * alive, and the heap grows to a multiple of it. 200 patrons and one batch
 * ahead measured about 35 MB less at the peak than 500 and four, in the same
 * time; 100 saved a little more but took longer (five times the round trips
 * and commits).
 */
export const PATRONS_PER_BATCH = 200;
/** Batches read ahead of the one being decided, so the query is never held up by writing. */
export const READ_AHEAD_BATCHES = 1;
/**
 * Batches written at once. One: on a database server with two CPUs a
 * second writer measured no faster (the query being read and the writes
 * already share them) and holds another batch in memory, and writes in
 * order keep a run's messages in patron order. More are safe: each batch
 * is its own transaction, and the store retries a deadlock victim.
 */
export const PARALLEL_WRITES = 1;

/** Amounts a run keeps written out: a few fees and prices recur, the rest are written each time. */
const MAX_AMOUNTS_KEPT = 1000;

/** Everything a run needs that does not change while it runs: read once, used in memory. */
export class RunContext {
  private constructor(
    readonly deps: NoticeDeps,
    readonly args: GenerateArgs,
    readonly directory: BranchDirectory,
    readonly dateFormat: KohaDateFormat,
    readonly timeFormat: KohaTimeFormat,
    readonly money: MoneyStyle,
    readonly engine: EngineSettings,
    readonly quiet: QuietHours,
    readonly closedDays: ClosedDays,
    readonly now: Date,
    private readonly smsBranches: { canSend(branchcode: string | null): boolean } | null,
  ) {
    this.today = formatKohaDate(args.runDate, dateFormat);
  }

  /** The run's day as Koha shows dates: every message of the run prints it. */
  readonly today: string;

  static async load(deps: NoticeDeps, args: GenerateArgs): Promise<RunContext> {
    const [directory, prefs, engine, quiet, closedDays, currency, sms] = await Promise.all([
      BranchDirectory.load(deps),
      deps.host.systemPreferences(['dateformat', 'TimeFormat', 'CurrencyFormat']),
      loadEngineSettings(deps.staffSettings),
      QuietHours.load(deps.branches, deps.settings.timezone),
      ClosedDays.load(deps.branches, () => deps.host.calendars(), deps.settings.timezone),
      deps.host.activeCurrency(),
      deps.smsAvailability ? deps.smsAvailability() : Promise.resolve(null),
      deps.renderer.refresh(),
    ]);
    const unit = currency?.symbol || currency?.isocode || currency?.currency || engine.currency || '';
    // A refused address is passed over for the next candidate; the run's log says which and why (never the value).
    for (const { branchcode, refused } of directory.allRefused()) {
      deps.logger.warn('run.address_refused', {
        runId: args.runId,
        branchcode,
        refused: refused.map((r) => ({ role: r.role, field: r.candidate.name, problem: r.problem })),
      });
    }
    return new RunContext(
      deps,
      args,
      directory,
      asKohaDateFormat(prefs.dateformat),
      asKohaTimeFormat(prefs.TimeFormat),
      { format: asCurrencyFormat(prefs.CurrencyFormat), unit },
      engine,
      quiet,
      closedDays,
      deps.clock.now(),
      sms,
    );
  }

  /** The channels set up for messages from this branch: SMS only where the branch has an account. */
  availableFrom(branchcode: string | null): ChannelName[] {
    const all = this.deps.availableChannels;
    if (!this.smsBranches || !all.includes('sms') || this.smsBranches.canSend(branchcode)) return all;
    return all.filter((c) => c !== 'sms');
  }

  date(value: string | null | undefined): string {
    return formatKohaDate(value, this.dateFormat);
  }

  /** A time as Koha's `TimeFormat` shows it (24hr or 12hr). */
  time(value: string | null | undefined): string {
    return formatKohaTime(value, this.timeFormat);
  }

  /** Amounts as the library writes them; a run prints the same few fees and prices again and again. */
  amount(n: number): string {
    let text = this.amounts.get(n);
    if (text === undefined) {
      text = formatMoney(n, this.money);
      if (this.amounts.size < MAX_AMOUNTS_KEPT) this.amounts.set(n, text);
    }
    return text;
  }

  private readonly amounts = new Map<number, string>();

  /** Whose branch picks the rules for a loan, as the rules_branch setting says. */
  loanRuleBranch(loan: { issue_branchcode: string | null; homebranch: string | null; branchcode: string }): string | null {
    switch (this.engine.rulesBranch) {
      case 'item_home':
        return loan.homebranch ?? loan.issue_branchcode;
      case 'patron':
        return loan.branchcode;
      default:
        return loan.issue_branchcode ?? loan.homebranch;
    }
  }

  /**
   * The branch a loan's notice of this type speaks for, as the library chose
   * (kmc_settings `notice_branch.TYPE`): the patron's home branch (the
   * default), the branch that lent it, or the item's home branch.
   */
  loanNoticeBranch(
    type: MessageType,
    loan: { issue_branchcode: string | null; homebranch: string | null; branchcode: string },
  ): string | null {
    switch (this.engine.noticeBranch[type]) {
      case 'issuing':
        return loan.issue_branchcode ?? loan.branchcode;
      case 'item_home':
        return loan.homebranch ?? loan.branchcode;
      default:
        return loan.branchcode;
    }
  }

  /** The branch a hold's notice of this type speaks for: the pickup branch (the default), the patron's, or the item's home. */
  holdNoticeBranch(type: MessageType, hold: { pickup_branchcode: string; homebranch: string | null; branchcode: string }): string | null {
    switch (this.engine.noticeBranch[type]) {
      case 'patron':
        return hold.branchcode;
      case 'item_home':
        return hold.homebranch ?? hold.pickup_branchcode;
      default:
        return hold.pickup_branchcode;
    }
  }

  /** A hold has no issuing branch: its pickup branch stands in for it. */
  holdRuleBranch(hold: { pickup_branchcode: string; homebranch: string | null; branchcode: string }): string | null {
    switch (this.engine.rulesBranch) {
      case 'item_home':
        return hold.homebranch ?? hold.pickup_branchcode;
      case 'patron':
        return hold.branchcode;
      default:
        return hold.pickup_branchcode;
    }
  }

  subject(branchcode: string | null, categorycode: string | null, itemtype: string | null): RuleSubject {
    return { branchcode, categorycode, itemtype, date: this.args.runDate };
  }

  /**
   * Why a candidate is outside this run, or null when it is in: the branch
   * asked for, the routine's criteria, and branches excluded from automated runs.
   */
  outOfScope(s: { branchcode: string | null; categorycode: string | null; itemtype: string | null }): string | null {
    const c = this.args.criteria;
    if (this.args.branchcode && s.branchcode !== this.args.branchcode) return 'other_branch';
    if (c?.branches?.length && !c.branches.includes(s.branchcode ?? '')) return 'outside_routine_criteria';
    if (c?.categories?.length && !c.categories.includes(s.categorycode ?? '')) return 'outside_routine_criteria';
    if (c?.itemtypes?.length && s.itemtype !== null && !c.itemtypes.includes(s.itemtype)) return 'outside_routine_criteria';
    if (this.args.automated && this.directory.excludedFromAutomatedRuns(s.branchcode)) return 'branch_excluded_from_automated_runs';
    return null;
  }
}

/** Counts one skipped candidate under its reason. */
export function skip(stats: RunStats, reason: string, n = 1): void {
  stats.skipped += n;
  countInto(stats.skippedBy, reason, n);
}

/** Skips a record from Koha for its data: counted under its reason and listed, with its ids, on the run. */
export function skipRecord(stats: RunStats, record: SkippedRecord): void {
  skip(stats, record.reason);
  if (stats.skippedRecords.length < MAX_LISTED_RECORDS) stats.skippedRecords.push(record);
}

/** The ids a skipped unit is listed under: its patron and its loan or hold. */
export function idsOfUnit(u: Pick<Unit, 'patron' | 'item'>): Pick<SkippedRecord, 'borrowernumber' | 'issueId' | 'reserveId'> {
  return {
    borrowernumber: u.patron.borrowernumber,
    ...(u.item.issueId ? { issueId: u.item.issueId } : {}),
    ...(u.item.reserveId ? { reserveId: u.item.reserveId } : {}),
  };
}

/** The rules of one type and level, refusing to run without the baseline that must cover everything. */
export async function rulesWithBaseline(deps: NoticeDeps, type: MessageType, level = 0): Promise<Rule[]> {
  const rules = await deps.rules.forType(type, level);
  if (!rules.some((r) => r.is_baseline)) {
    throw new KmcError(
      'KMC_NO_BASELINE_RULE',
      `no baseline rule for ${type}${level ? ` level ${level}` : ''}; run \`kmc migrate\` to restore it`,
    );
  }
  return rules;
}

/** The smallest delay of the used rules that can apply on the run day, or null when none is used. */
export function smallestDelay(rules: Rule[], runDate: string): number | null {
  const used = rules.filter((r) => r.is_used && (!r.valid_from || r.valid_from <= runDate) && (!r.valid_to || r.valid_to >= runDate));
  return used.length ? Math.min(...used.map((r) => r.delay_days)) : null;
}

export { resolveRule };

/**
 * The library day of the first real run of a message type (this run's day
 * when it is the first, or a dry run before any): what was there before it,
 * Koha dealt with.
 */
export async function firstRunDay(deps: NoticeDeps, type: MessageType, now: Date): Promise<string> {
  return libraryDay((await deps.runs.firstRunStart(type)) ?? now, deps.settings.timezone);
}

/**
 * A batch decided in two steps. `prepare` (what the batch needs from the
 * database) starts as soon as the batch is read, while the batch before it
 * is still being decided and written, so its round trips are not waited for
 * in turn. It must not depend on what earlier batches write: batches hold
 * different patrons, so reads about their own loans or holds do not.
 */
export interface PreparedHandler<T, P> {
  prepare(patrons: T[][]): Promise<P>;
  decide(patrons: T[][], prepared: P): Promise<NewMessage[]>;
}

/** A batch waiting its turn: deciding it waits for what was prepared for it (started when it was read). */
interface QueuedBatch {
  decide(): Promise<NewMessage[]>;
}

/**
 * Reads a streaming query ordered by patron and hands the rows over in
 * batches of whole patrons. Reading runs ahead of deciding and writing (up
 * to `readAhead` batches wait, each already being prepared when the handler
 * has a `prepare` step), and batches are written (up to `parallelWrites` at
 * once) while the next is decided, so the query, the rendering and the
 * writes overlap instead of taking turns; memory stays bounded by the
 * read-ahead. A failure anywhere stops the run and closes the query; the run
 * ends only once no write is left in flight.
 */
export async function runBatches<T extends { borrowernumber: number }, P>(
  rows: AsyncIterable<T>,
  handle: ((patrons: T[][]) => Promise<NewMessage[]>) | PreparedHandler<T, P>,
  sink: MessageSink,
  patronsPerBatch = PATRONS_PER_BATCH,
  readAhead = READ_AHEAD_BATCHES,
  parallelWrites = PARALLEL_WRITES,
): Promise<void> {
  const batchOf = (patrons: T[][]): QueuedBatch => {
    if (typeof handle === 'function') return { decide: () => handle(patrons) };
    const prepared = handle.prepare(patrons);
    // A batch the run stops before deciding is never awaited: its failure must not be left unhandled.
    prepared.catch(() => undefined);
    return { decide: () => prepared.then((p) => handle.decide(patrons, p)) };
  };
  const queue: QueuedBatch[] = [];
  let finished = false;
  const isFinished = () => finished;
  let failure: { error: unknown } | null = null;
  // Read through a call: the reader, the worker and the writes set it from callbacks, which TypeScript's narrowing does not see.
  const failed = (): { error: unknown } | null => failure;
  // One waiter on each side: the reader when the queue is full, the worker when it is empty.
  let wakeWorker: (() => void) | null = null;
  let wakeReader: (() => void) | null = null;
  const signal = (which: 'worker' | 'reader') => {
    const wake = which === 'worker' ? wakeWorker : wakeReader;
    if (which === 'worker') wakeWorker = null;
    else wakeReader = null;
    wake?.();
  };
  const fail = (error: unknown) => {
    failure ??= { error };
    signal('worker');
    signal('reader');
  };

  // Writes in flight; each settles into this set's bookkeeping and never rejects (a failure goes to fail()).
  const writes = new Set<Promise<void>>();
  const worker = (async () => {
    try {
      for (;;) {
        while (!queue.length && !isFinished() && !failed()) await new Promise<void>((r) => (wakeWorker = r));
        const batch = failed() ? undefined : queue.shift();
        if (!batch) break;
        signal('reader');
        const made = await batch.decide();
        while (writes.size >= parallelWrites && !failed()) await Promise.race(writes);
        if (failed() || !made.length) continue;
        const write: Promise<void> = sink(made).then(
          () => void writes.delete(write),
          (err: unknown) => {
            writes.delete(write);
            fail(err);
          },
        );
        writes.add(write);
      }
    } finally {
      // Whatever happens, the run ends only once nothing is being written.
      await Promise.all(writes);
    }
  })().catch(fail);

  let group: T[] = [];
  let pending: T[][] = [];
  const enqueue = async () => {
    queue.push(batchOf(pending));
    pending = [];
    signal('worker');
    while (queue.length >= readAhead && !failed()) await new Promise<void>((r) => (wakeReader = r));
  };
  try {
    for await (const row of rows) {
      if (failed()) break;
      if (group.length && group[0].borrowernumber !== row.borrowernumber) {
        pending.push(group);
        group = [];
        if (pending.length >= patronsPerBatch) await enqueue();
      }
      group.push(row);
    }
    if (group.length) pending.push(group);
    if (pending.length && !failed()) queue.push(batchOf(pending));
  } catch (err) {
    fail(err);
  } finally {
    finished = true;
    signal('worker');
  }
  await worker;
  const failure_ = failed();
  if (failure_) throw failure_.error;
}

/** One thing a notice covers (a loan, a hold, a new patron), as its generator decided it. */
export interface Unit {
  patron: PatronContact;
  rule: Rule;
  level: number;
  coverage: string;
  /** Channels the notice may use, in order, after the patron's own choices. */
  channels: ChannelName[];
  /** Units of one patron with the same key share a message (digest); null = a message of its own. */
  digestKey: string | null;
  /** The branch the message comes from and speaks for. */
  sendingBranch: string | null;
  /** What kmc_message_items keeps about it (the coverage key is added by the composer). */
  item: Omit<NewMessageItem, 'coverageKey'>;
  /** Its line in the template's `items` list; null for notices about no item (welcome). */
  line: Record<string, string | number> | null;
  /** An amount billed for it (replacement price). */
  amount?: number;
}

/** Extra top-level template values a type adds for one message (e.g. the pickup deadline). */
export type Extras = (units: Unit[], ctx: RunContext) => Record<string, string | number>;

/** Each patron's notice address (patronEmail), read once however many of the patron's loans or holds there are. */
export function patronEmails(patrons: PatronContact[]): Map<number, string | null> {
  const out = new Map<number, string | null>();
  for (const p of patrons) if (!out.has(p.borrowernumber)) out.set(p.borrowernumber, patronEmail(p));
  return out;
}

/** Asks the e-mail gate, once per batch, about the patrons that have a usable address (`emails`: patronEmails, if read already). */
export async function emailStates(
  deps: NoticeDeps,
  patrons: PatronContact[],
  emails: Map<number, string | null> = patronEmails(patrons),
): Promise<Map<number, EmailGateState>> {
  if (!deps.emailGate) return new Map();
  const ask: Array<{ borrowernumber: number; email: string }> = [];
  for (const [borrowernumber, email] of emails) if (email) ask.push({ borrowernumber, email });
  return ask.length ? deps.emailGate.check(ask) : new Map();
}

/** How many messages the composer renders before letting pending I/O run. */
const MESSAGES_PER_YIELD = 25;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Composer {
  /** Template codes of rules that turned out to have no templates: the type's own are used. */
  private missingTemplates = new Set<string>();

  constructor(
    private readonly ctx: RunContext,
    private readonly type: MessageType,
    private readonly extras?: Extras,
  ) {}

  /**
   * Messages for these units. Units already covered by a stored message are
   * skipped as already notified, unless the generator knows (`coverageKnown`).
   */
  async compose(units: Unit[], stats: RunStats, opts: { coverageKnown?: boolean } = {}): Promise<NewMessage[]> {
    const { deps } = this.ctx;
    let open = units;
    if (!opts.coverageKnown && units.length) {
      const covered = await deps.store.coveredKeys(units.map((u) => u.coverage));
      open = units.filter((u) => !covered.has(u.coverage));
      if (units.length - open.length) skip(stats, 'already_notified', units.length - open.length);
    }
    if (!open.length) return [];
    const patrons = open.map((u) => u.patron);
    const emails = patronEmails(patrons);
    const gate = await emailStates(deps, patrons, emails);
    const groups = new Map<string, Unit[]>();
    for (const u of open) {
      const key = `${u.patron.borrowernumber}|${u.level}|${u.sendingBranch ?? ''}|${u.digestKey ?? `unit:${u.coverage}`}`;
      const list = groups.get(key);
      if (list) list.push(u);
      else groups.set(key, [u]);
    }
    const out: NewMessage[] = [];
    let sinceYield = 0;
    for (const list of groups.values()) {
      try {
        const { borrowernumber } = list[0].patron;
        out.push(...this.messagesFor(list, gate.get(borrowernumber), emails.get(borrowernumber) ?? null));
      } catch (err) {
        // A template that cannot be used stops the run: staff must put it right. Anything else is this record's data,
        // including data too large for the template's render budget: this patron's notice is skipped, the run goes on.
        if (err instanceof TemplateError && !(err instanceof RenderBudgetExceeded)) throw err;
        const detail = err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
        deps.logger.warn('run.record_skipped', { runId: this.ctx.args.runId, borrowernumber: list[0].patron.borrowernumber, detail });
        for (const u of list) skipRecord(stats, { reason: 'cannot_make_notice', ...idsOfUnit(u), detail });
      }
      // Rendering a whole batch at once would hold up the batch being written
      // and the query being read, each of which needs the event loop between
      // its round trips: let them move on every few messages.
      if (++sinceYield >= MESSAGES_PER_YIELD) {
        sinceYield = 0;
        await yieldToIo();
      }
    }
    return out;
  }

  private messagesFor(units: Unit[], emailState: EmailGateState | undefined, email: string | null): NewMessage[] {
    const { ctx } = this;
    const { deps, args } = ctx;
    const first = units[0];
    const { rule, patron, level, sendingBranch } = first;
    // A complaint stops e-mail for notices that may be skipped; overdue notices and bills only when a letter can go instead.
    const mustReach = this.type === 'overdue' || this.type === 'replacement_bill';
    const choiceOpts = {
      defaultCountry: deps.settings.defaultCountry,
      available: ctx.availableFrom(sendingBranch),
      emailState,
      complaintStopsEmail: !mustReach || first.channels.includes('print'),
      email,
    };
    const choices: ChannelChoice[] = rule.send_all_channels
      ? chooseAllChannels(first.channels, patron, choiceOpts)
      : [chooseChannel(first.channels, patron, choiceOpts)];
    const amounts = units.reduce((sum, u) => sum + (u.amount ?? 0), 0);
    const notices = rule.fee_per_notice + rule.fee_per_item * units.length;
    const fee = Math.round((notices + amounts) * 100) / 100;
    const base: Record<string, unknown> = {
      patron: patronTemplateData(patron, email),
      branch: ctx.directory.templateData(sendingBranch),
      address: '',
      items: units.filter((u) => u.line).map((u) => u.line),
      level,
      fee,
      fee_text: ctx.amount(fee),
      today: ctx.today,
      message: args.messageToPatrons ?? '',
      ...(this.extras ? this.extras(units, ctx) : {}),
    };
    const langs = ctx.directory.langsFor(patron);
    const out: NewMessage[] = [];
    choices.forEach((choice, index) => {
      const channel: ChannelName = choice.ok ? choice.channel : (first.channels[0] ?? 'print');
      // No usable channel: missing contact, whatever else holds; otherwise the placement rule decides.
      const { status, reason } = choice.ok
        ? placeMessage({
            channel,
            emailState: choice.held ? 'held' : null,
            quietHours: ctx.quiet.quietNow(sendingBranch, ctx.now),
            closedDay: ctx.closedDays.heldNow(sendingBranch, this.type, channel, ctx.now),
            approval: args.needsApproval ? { routineName: args.routineName ?? null } : null,
          })
        : { status: 'missing_contact' as const, reason: choice.reason };
      const data = { ...base, address: choice.ok && channel === 'print' ? choice.to : '', message: channel === 'sms' ? '' : base.message };
      const rendered = this.render(rule, channel, langs, sendingBranch, data);
      // A second channel of an "all channels" rule covers the same loans under keys of its own.
      const coverage = units.map((u) => (index === 0 ? u.coverage : `${u.coverage}:${channel}`));
      out.push({
        idempotencyKey: idempotencyKey(this.type, level, patron.borrowernumber, coverage),
        messageType: this.type,
        level,
        borrowernumber: patron.borrowernumber,
        branchcode: sendingBranch,
        channel,
        status,
        statusReason: reason ? reason.slice(0, 255) : null,
        to: choice.ok ? choice.to : null,
        from: channel === 'email' ? ctx.directory.senderHeader(sendingBranch) : (ctx.directory.branch(sendingBranch)?.branchname ?? null),
        replyTo: channel === 'email' ? ctx.directory.replyToHeader(sendingBranch) : null,
        lang: rendered.lang,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        fee,
        runId: args.runId,
        ruleId: rule.id,
        routineId: args.routineId ?? null,
        noticeDate: args.runDate,
        // The plain data, with the routine's text kept, so another channel can be rendered from it.
        renderData: { ...base, address: '' },
        items: units.map((u, i) => ({ ...u.item, coverageKey: coverage[i] })),
      });
    });
    return out;
  }

  private render(rule: Rule, channel: ChannelName, langs: string[], branchcode: string | null, data: Record<string, unknown>) {
    const renderer = this.ctx.deps.renderer;
    const code = rule.template_code;
    if (code && code !== this.type && !this.missingTemplates.has(`${code}|${channel}`)) {
      try {
        return renderer.render({ type: code, channel, langs, branchcode, data });
      } catch (err) {
        if (!(err instanceof TemplateError) || err.details.reason !== 'missing') throw err;
        this.missingTemplates.add(`${code}|${channel}`);
      }
    }
    return renderer.render({ type: this.type, channel, langs, branchcode, data });
  }
}

/** A level of a loan's overdue notices: the day it went out, or null while it has not (proposed, held, queued, cancelled, no contact). */
export interface LevelRecord {
  wentOut: string | null;
}

/** What the sidecar already sent about some loans: per loan, the overdue levels for its current due date, and the other types. */
export interface LoanHistory {
  levels: Map<number, LevelRecord>;
  types: Set<string>;
}

/** Statuses of a notice that reached the patron's way: sent, delivered, or a letter printed (or handed to print). */
export const WENT_OUT: ReadonlySet<string> = new Set(['sent', 'delivered', 'printed', 'to_print', 'bounced']);

const COVERAGE = /^([a-z_]+):(\d):issue:\d+(?::due:\d{8}T\d{4})?$/;

const sameDue = (a: string | null, b: string) => a === null || a.slice(0, 16) === b.slice(0, 16);

/**
 * One query per batch: the notices that cover these loans. Overdue levels
 * count only for the loan's current due date (a renewal starts it over);
 * each level carries the library day it went out, from which the next level
 * and the bill count.
 */
export async function loanHistory(
  store: MessageStore,
  loans: Array<{ issue_id: number; date_due: string }>,
  timeZone: string,
): Promise<Map<number, LoanHistory>> {
  const out = new Map<number, LoanHistory>();
  const dueOf = new Map(loans.map((l) => [l.issue_id, l.date_due]));
  for (const r of await store.loanCoverage([...dueOf.keys()])) {
    const m = COVERAGE.exec(r.coverage_key);
    if (!m) continue;
    let h = out.get(r.issue_id);
    if (!h) out.set(r.issue_id, (h = { levels: new Map(), types: new Set() }));
    h.types.add(m[1]);
    const due = dueOf.get(r.issue_id);
    if (m[1] === 'overdue' && due !== undefined && sameDue(r.date_due, due)) {
      const sentAt = fromDbTime(r.first_sent_at);
      const day = sentAt
        ? libraryDay(sentAt, timeZone)
        : r.notice_date
          ? r.notice_date.slice(0, 10)
          : libraryDay(fromDbTime(r.created_at) ?? new Date(0), timeZone);
      h.levels.set(Number(m[2]), { wentOut: WENT_OUT.has(r.status) ? day : null });
    }
  }
  return out;
}
