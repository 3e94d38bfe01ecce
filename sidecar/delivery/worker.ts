/**
 * The delivery worker: claims due messages, hands each to its channel's
 * adapter, and records the outcome. Transient failures come back later with
 * jittered exponential backoff until the channel's retry budget is spent.
 *
 * Throughput: each channel keeps as many sends in flight as its adapter says
 * is useful (the SMPP window, twice the SMTP pool), the next batch is claimed
 * while the last one is still going, and outcomes are written in groups: one
 * transaction holds the outcomes of the sends that answered together and of
 * those that came in while the previous write was running.
 *
 * What a crash can repeat: a send's slot in its channel's window is given
 * back only once its outcome is stored, so at any moment the messages that
 * reached a server without `sent` stored are at most the window of each
 * channel. A crash repeats no more than that, and each e-mail keeps the
 * Message-ID its claim gave it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../channels';
import type { CompletionChange, MessageRow, MessageStore } from '../queue';
import type { HostReader } from '../host';
import type { Logger } from '../logging';
import { KmcError, messageOfError } from '../errors';
import { isChannel, type ChannelName, type Clock } from '../kernel';
import { fromDbTime } from '../db';
import type { PaceHold, SendingPace } from './pace';

export interface RetryPolicy {
  maxAttempts: Record<ChannelName, number>;
  baseMs: number;
  maxMs: number;
  /** 0.25 = each wait is spread ±25% so retries of a whole batch do not arrive together. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: { email: 8, sms: 8, print: 3 },
  baseMs: 60_000,
  maxMs: 6 * 3600_000,
  jitter: 0.25,
};

/**
 * Codes meaning the message left us but no answer came back: the SMSC may
 * have accepted it. Trying again may send it twice (see the README); the
 * event says so, so staff can tell when a patron reports two texts.
 */
export const MAYBE_DELIVERED_CODES: ReadonlySet<string> = new Set(['SMPP_TIMEOUT', 'SMPP_CONNECTION_LOST']);

const LEASE_CHECK_EVERY_MS = 5_000;

/**
 * How long an outcome waits for sends still answering before its group is written anyway: as long as the latest
 * write took, within these bounds. A steady stream of answers (e-mail over a pool) then makes groups of a few
 * outcomes, not a commit for each.
 */
const GATHER_MIN_MS = 5;
const GATHER_MAX_MS = 20;

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = raw * policy.jitter * (random() * 2 - 1);
  return Math.max(1000, Math.round(raw + spread));
}

export interface DeliveryStats {
  sent: number;
  failed: number;
  retried: number;
  held: number;
  claimed: number;
  /** Held back by a sending limit and put back in the queue for when the limit allows (absent: none). */
  heldBack?: number;
  /** Checked against Koha just before sending and cancelled, nothing in them being current any more (absent: none). */
  cancelled?: number;
  disabled?: boolean;
}

export interface DeliveryDeps {
  store: MessageStore;
  host: HostReader;
  adapters: Partial<Record<ChannelName, ChannelAdapter>>;
  logger: Logger;
  clock: Clock;
  pluginClass: string;
  workerId?: string;
  /** Messages claimed in one go (default 100). */
  batchSize?: number;
  /** Sends in flight per channel when the adapter does not say (default 10). */
  concurrency?: number;
  leaseMs?: number;
  retryPolicy?: RetryPolicy;
  /** Sending limits per recipient domain, SMTP relay and SMS account; absent: none. */
  pace?: SendingPace;
  /** Run before each batch is claimed (e.g. releasing SMS whose quiet hours are over). */
  beforeBatch?: (now: Date) => Promise<unknown>;
  /**
   * Checks a claimed batch against Koha just before it is handed to the channels: resolves with the messages
   * that still go (one that changed with its new text) and how many it cancelled; what it leaves out is no
   * longer this worker's to send. Absent: the batch goes as claimed.
   */
  recheck?: (batch: MessageRow[], workerId: string) => Promise<{ send: MessageRow[]; cancelled: number }>;
}

interface Pending {
  change: CompletionChange & { id: number };
  /** When the outcome came in (performance.now()). */
  at: number;
  resolve: (recorded: boolean) => void;
  reject: (err: unknown) => void;
}

/** One channel's part of a delivery run: its adapter, the claimed messages waiting for it, and its sends in flight. */
interface Lane {
  adapter: ChannelAdapter;
  queue: MessageRow[];
  active: number;
  /** Held back for a moment by a sending limit (e.g. SMS per second), each with the timer that puts it back. */
  waiting: Map<NodeJS.Timeout, MessageRow>;
}

/** A hold shorter than this waits in the worker; a longer one puts the message back in the queue for its time. */
const SHORT_HOLD_MS = 2_000;
/** Short waits one message may have in a run before it goes back in the queue instead. */
const SHORT_HOLDS_MAX = 3;

/**
 * Writes outcomes in groups (a group commit). record() resolves once the
 * outcome is stored; a database that is away for a moment is tried again for
 * a few seconds before the outcome is given up (the lease then brings the
 * message back).
 *
 * One group is written at a time. While sends are still answering, an
 * outcome waits for them, as long as the latest write took (writing at once
 * would make them wait that long anyway, behind it), within GATHER_MIN_MS
 * and GATHER_MAX_MS; one that waited that long behind the write before goes
 * at once. So a window is stored by one commit, not by one for its first
 * answers and another for the rest, and a commit costs much the same for one
 * outcome as for ten.
 */
class OutcomeWriter {
  private pending: Pending[] = [];
  private running = false;
  private gathering: NodeJS.Timeout | null = null;
  /** How long the latest group took to write (at first, a commit on a busy server): the longest a first outcome waits for the rest. */
  private lastWriteMs = 5;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: MessageStore,
    private readonly workerId: string,
    private readonly logger: Logger,
    /** Sends handed to a channel that have not answered yet. */
    private readonly unanswered: () => number,
    private readonly maxGroup = 500,
  ) {}

  record(change: CompletionChange & { id: number }): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ change, resolve, reject, at: performance.now() });
      this.next();
    });
  }

  idle(): Promise<void> {
    if (!this.running && !this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts the next group now, or once the sends still answering have answered (or the wait above is over). */
  private next(): void {
    if (this.running || !this.pending.length) return;
    // Outcomes that already waited that long (behind the write before) go at once.
    const wait = Math.min(GATHER_MAX_MS, Math.max(GATHER_MIN_MS, this.lastWriteMs)) - (performance.now() - this.pending[0].at);
    if (wait >= 1 && this.unanswered() > 0 && this.pending.length < this.maxGroup) {
      this.gathering ??= setTimeout(() => {
        this.gathering = null;
        this.writeGroup();
      }, wait);
      return;
    }
    this.writeGroup();
  }

  private writeGroup(): void {
    if (this.gathering) clearTimeout(this.gathering);
    this.gathering = null;
    if (this.running || !this.pending.length) return;
    this.running = true;
    const group = this.pending.splice(0, this.maxGroup);
    const started = performance.now();
    void this.write(group.map((p) => p.change))
      .then(
        (done) => {
          group.forEach((p, i) => {
            p.resolve(done[i]);
          });
        },
        (err: unknown) => {
          group.forEach((p) => {
            p.reject(err);
          });
        },
      )
      .finally(() => {
        this.lastWriteMs = performance.now() - started;
        this.running = false;
        if (this.pending.length) {
          this.next();
          return;
        }
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      });
  }

  private async write(changes: Array<CompletionChange & { id: number }>): Promise<boolean[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.store.completeMany(this.workerId, changes);
      } catch (err) {
        if (attempt >= 6) throw err;
        this.logger.warn('delivery.record_retry', {
          worker: this.workerId,
          messages: changes.length,
          attempt,
          error: messageOfError(err),
        });
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      }
    }
  }
}

export class DeliveryWorker {
  readonly workerId: string;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private current: Promise<DeliveryStats> | null = null;
  private wake: (() => void) | null = null;
  private wakeRun: (() => void) | null = null;
  /** SMS the SMSC accepted in the latest run (kmc deliver --once waits for their receipts). */
  private smsAccepted: number[] = [];

  constructor(private readonly deps: DeliveryDeps) {
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** Read through a call: stop() may set it while a run awaits. */
  private isStopping(): boolean {
    return this.stopping;
  }

  private get policy(): RetryPolicy {
    return this.deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
  }

  private limitFor(channel: ChannelName): number {
    const advised = this.deps.adapters[channel]?.maxInFlight;
    return Math.max(1, advised ?? this.deps.concurrency ?? 10);
  }

  /** Delivers everything due now, batch after batch, and returns. */
  deliverOnce(): Promise<DeliveryStats> {
    const run = this.runOnce().finally(() => {
      if (this.current === run) this.current = null;
    });
    this.current = run;
    return run;
  }

  /** The SMS the SMSC accepted in the latest run, for the receipt wait of `kmc deliver --once`. */
  smsAcceptedInLastRun(): readonly number[] {
    return this.smsAccepted;
  }

  private async runOnce(): Promise<DeliveryStats> {
    this.smsAccepted = [];
    const stats: DeliveryStats = { sent: 0, failed: 0, retried: 0, held: 0, claimed: 0 };
    const lanes = new Map<ChannelName, Lane>();
    for (const [channel, adapter] of Object.entries(this.deps.adapters)) {
      if (isChannel(channel)) lanes.set(channel, { adapter, queue: [], active: 0, waiting: new Map() });
    }
    const channels = [...lanes.keys()];
    const batchSize = this.deps.batchSize ?? 100;
    // Sends that answered and whose outcome is not stored yet: the rest of the slots in use are still answering.
    const answered = new Set<number>();
    const writer = new OutcomeWriter(this.deps.store, this.workerId, this.deps.logger, () => inFlight() - answered.size);
    const queued = () => [...lanes.values()].reduce((n, lane) => n + lane.queue.length + lane.waiting.size, 0);
    // A lane is hungry when it has half a batch or less in hand. Only hungry lanes' channels are claimed, so a
    // slow channel (letters rendered to PDF) does not hold back the claims of a fast one. A channel a short
    // claim found empty is not asked again until everything in hand is done.
    const exhausted = new Set<ChannelName>();
    const hungry = () =>
      channels.filter((c) => {
        const lane = lanes.get(c);
        return !exhausted.has(c) && (!lane || lane.queue.length + lane.waiting.size <= batchSize / 2);
      });
    const inFlight = () => [...lanes.values()].reduce((n, lane) => n + lane.active, 0);

    let waiting: (() => void) | null = null;
    const changed = () => {
      const w = waiting;
      waiting = null;
      w?.();
    };
    const nextChange = () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
      });
    this.wakeRun = changed;

    // Sending limits: a message over one waits a moment in the worker, or goes back in the queue for
    // when the limit allows, its attempt given back; messages under other limits go on meanwhile.
    const shortHolds = new Map<number, number>();
    const holds: Array<{ row: MessageRow; hold: PaceHold }> = [];
    let releasing: Promise<void> = Promise.resolve();
    const heldBack = (row: MessageRow, lane: Lane): boolean => {
      const pace = this.deps.pace;
      if (!pace || pace.unlimited) return false;
      const rules = pace.rulesFor(row.channel, row.to_address ?? '', lane.adapter.paceAccount?.(row.branchcode) ?? null);
      if (!rules.length) return false;
      const now = this.deps.clock.now().getTime();
      const hold = pace.take(rules, now);
      if (!hold) return false;
      if (hold.taking) {
        // Places are being taken in the shared count: the message holds a slot meanwhile (so the round
        // waits for it), then is asked about again.
        lane.active += 1;
        hold.taking.then(
          () => {
            lane.active -= 1;
            lane.queue.unshift(row);
            pump();
            changed();
          },
          (err: unknown) => {
            lane.active -= 1;
            this.deps.logger.error('delivery.pace_count_failed', {
              worker: this.workerId,
              limit: hold.rule.key,
              error: messageOfError(err),
            });
            holds.push({ row, hold: { at: now + hold.rule.windowMs, rule: hold.rule } });
            releaseHeld();
            changed();
          },
        );
        return true;
      }
      const waits = shortHolds.get(row.id) ?? 0;
      if (hold.at - now <= SHORT_HOLD_MS && waits < SHORT_HOLDS_MAX) {
        shortHolds.set(row.id, waits + 1);
        const timer = setTimeout(() => {
          lane.waiting.delete(timer);
          lane.queue.unshift(row);
          pump();
          changed();
        }, hold.at - now);
        lane.waiting.set(timer, row);
        return true;
      }
      holds.push({ row, hold });
      return true;
    };
    const releaseHeld = () => {
      if (!holds.length) return;
      const group = holds.splice(0);
      stats.heldBack = (stats.heldBack ?? 0) + group.length;
      releasing = releasing.then(() => this.putBack(group, held));
    };

    // A channel's slot is free once the outcome of its send is stored (or given up): a message that
    // reached its server without `sent` stored holds a slot, so a crash repeats at most the window.
    const pump = () => {
      if (this.stopping) return;
      for (const [channel, lane] of lanes) {
        const limit = this.limitFor(channel);
        while (lane.active < limit) {
          const row = lane.queue.shift();
          if (!row) break;
          if (heldBack(row, lane)) continue;
          lane.active += 1;
          const slotFree = () => {
            held.delete(row.id);
            answered.delete(row.id);
            lane.active -= 1;
            pump();
            changed();
          };
          void this.deliver(row, lane.adapter, stats, writer, () => answered.add(row.id)).then(
            ({ stored }) =>
              stored
                .catch((err: unknown) => {
                  // The outcome could not be stored: the message stays `sending` and its lease brings it back.
                  this.deps.logger.error('delivery.record_failed', {
                    messageId: row.id,
                    channel,
                    worker: this.workerId,
                    error: messageOfError(err),
                  });
                })
                .finally(slotFree),
            (err: unknown) => {
              // Whether it went out is unknown: leave it `sending` for the lease to bring back.
              slotFree();
              this.deps.logger.error('delivery.send_failed', {
                messageId: row.id,
                channel,
                worker: this.workerId,
                error: messageOfError(err),
              });
            },
          );
        }
      }
      releaseHeld();
    };

    // Claimed and not yet recorded: their leases are renewed while this worker lives.
    const held = new Set<number>();
    const leaseMs = this.deps.leaseMs ?? 5 * 60_000;
    const heartbeat = setInterval(
      () => {
        if (!held.size) return;
        this.deps.store
          .extendLeases([...held], this.workerId, new Date(this.deps.clock.now().getTime() + leaseMs))
          .catch((err: unknown) => {
            this.deps.logger.warn('delivery.lease_renewal_failed', {
              worker: this.workerId,
              messages: held.size,
              error: messageOfError(err),
            });
          });
      },
      Math.max(500, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();

    let nextLeaseCheck = 0;
    try {
      for (;;) {
        if (this.isStopping()) break;
        // The toggle is read before every batch: switching off in Koha stops sending within one batch.
        if (!(await this.deps.host.isEnabled(this.deps.pluginClass))) {
          stats.disabled = true;
          this.deps.logger.info('delivery.skipped_disabled', { worker: this.workerId });
          break;
        }
        const now = this.deps.clock.now();
        // Expired leases are looked for at the start and then every few seconds, not before every batch.
        if (Date.now() >= nextLeaseCheck) {
          nextLeaseCheck = Date.now() + LEASE_CHECK_EVERY_MS;
          const released = await this.deps.store.releaseExpiredLeases(now, this.workerId);
          if (released) this.deps.logger.warn('delivery.leases_expired', { worker: this.workerId, messages: released });
        }
        if (this.deps.beforeBatch) await this.deps.beforeBatch(now);
        const wanted = hungry();
        const batch = await this.deps.store.claimDue({ channels: wanted, limit: batchSize, workerId: this.workerId, leaseMs, now });
        stats.claimed += batch.length;
        for (const row of await this.recheck(batch, stats)) {
          held.add(row.id);
          const lane = lanes.get(row.channel);
          // Only the lanes' channels are claimed.
          if (!lane) throw new KmcError('KMC_INTERNAL', `message ${row.id} was claimed for ${row.channel}, which has no adapter`);
          lane.queue.push(row);
        }
        pump();
        if (batch.length < batchSize) for (const c of wanted) exhausted.add(c);
        if (exhausted.size === channels.length) {
          // Nothing more due for now: finish what is in hand, then look once more, over every channel.
          while ((queued() || inFlight()) && !this.isStopping()) await nextChange();
          exhausted.clear();
          if (!batch.length && wanted.length === channels.length) break;
          continue;
        }
        // Claim the next batch for a lane while its last one is still going, so no channel runs dry.
        while (!hungry().length && !this.isStopping()) await nextChange();
      }
    } finally {
      // Stopping: what was claimed but not yet handed to a channel goes straight back.
      const returnUnsent = async (rows: MessageRow[]): Promise<void> => {
        for (const r of rows) held.delete(r.id);
        if (!rows.length) return;
        await this.deps.store
          .releaseClaimed(
            rows.map((r) => r.id),
            this.workerId,
            this.deps.clock.now(),
            'returned to the queue unsent: the worker is stopping',
          )
          .catch((err: unknown) => {
            this.deps.logger.error('delivery.release_failed', { worker: this.workerId, messages: rows.length, error: messageOfError(err) });
          });
      };
      await returnUnsent(
        [...lanes.values()].flatMap((lane) => {
          const waiting = [...lane.waiting.entries()];
          lane.waiting.clear();
          for (const [timer] of waiting) clearTimeout(timer);
          return [...lane.queue.splice(0), ...waiting.map(([, row]) => row)];
        }),
      );
      while (inFlight()) await nextChange();
      // Messages that came back from taking places in the shared count after the first sweep.
      await returnUnsent([...lanes.values()].flatMap((lane) => lane.queue.splice(0)));
      releaseHeld();
      await releasing;
      // Places taken in the shared sending limits and not used go back for other workers.
      await this.deps.pace?.giveBack(this.deps.clock.now().getTime()).catch((err: unknown) => {
        this.deps.logger.warn('delivery.pace_give_back_failed', { worker: this.workerId, error: messageOfError(err) });
      });
      await writer.idle();
      // What the channels accepted is written where staff find it (the print folder's PDFs) before the round ends.
      await Promise.allSettled(Object.values(this.deps.adapters).map((a) => (a.idle ? a.idle() : Promise.resolve())));
      clearInterval(heartbeat);
      this.wakeRun = null;
    }
    // A status no message has is absent from the counts.
    const counts: Partial<Record<string, number>> = await this.deps.store.countByStatus();
    stats.held = counts.held ?? 0;
    return stats;
  }

  /**
   * Never stale: the claimed batch checked against Koha once more before any of it is handed over. When the
   * check cannot be made the batch goes back to the queue unsent, for the next pass.
   */
  private async recheck(batch: MessageRow[], stats: DeliveryStats): Promise<MessageRow[]> {
    if (!this.deps.recheck || !batch.length) return batch;
    try {
      const checked = await this.deps.recheck(batch, this.workerId);
      if (checked.cancelled) stats.cancelled = (stats.cancelled ?? 0) + checked.cancelled;
      return checked.send;
    } catch (err) {
      await this.deps.store
        .releaseClaimed(
          batch.map((r) => r.id),
          this.workerId,
          this.deps.clock.now(),
          'returned to the queue unsent: it could not be checked against Koha',
        )
        .catch(() => 0); // else their leases bring them back
      throw err;
    }
  }

  /** Puts messages a sending limit holds back in the queue for when it allows them; their attempts are given back. */
  private async putBack(group: Array<{ row: MessageRow; hold: PaceHold }>, held: Set<number>): Promise<void> {
    const byTime = new Map<string, { at: number; says: string; ids: number[] }>();
    for (const { row, hold } of group) {
      const key = `${String(hold.at)} ${hold.rule.key}`;
      const entry = byTime.get(key) ?? { at: hold.at, says: hold.rule.says, ids: [] };
      entry.ids.push(row.id);
      byTime.set(key, entry);
    }
    for (const { at, says, ids } of byTime.values()) {
      const next = new Date(at);
      try {
        await this.deps.store.releaseClaimed(
          ids,
          this.workerId,
          this.deps.clock.now(),
          `held back by ${says}; next attempt at ${next.toISOString()}`,
          next,
        );
        this.deps.logger.info('delivery.held_back', {
          worker: this.workerId,
          messages: ids.length,
          limit: says,
          until: next.toISOString(),
        });
      } catch (err) {
        // Left `sending`: the lease brings them back.
        this.deps.logger.error('delivery.hold_failed', { worker: this.workerId, messages: ids.length, error: messageOfError(err) });
      }
      for (const id of ids) held.delete(id);
    }
  }

  /** Sends one message; resolves once the channel answered, with the write of the outcome under way. */
  private async deliver(
    row: MessageRow,
    adapter: ChannelAdapter,
    stats: DeliveryStats,
    writer: OutcomeWriter,
    answering: () => void,
  ): Promise<{ stored: Promise<void> }> {
    // Fixed by the claim, so every attempt of this message carries the same one.
    const messageIdHeader = row.channel === 'email' ? row.message_id_header : null;
    const outgoing: OutgoingMessage = {
      id: row.id,
      channel: row.channel,
      to: row.to_address ?? '',
      from: row.from_address ?? '',
      replyTo: row.reply_to,
      subject: row.subject ?? '',
      text: row.body_text ?? '',
      html: row.body_html,
      messageIdHeader,
      branchcode: row.branchcode,
      runId: row.run_id,
      lang: row.lang,
    };
    let outcome: SendOutcome;
    try {
      outcome = await adapter.send(outgoing);
    } catch (err) {
      // An adapter that throws broke its contract; treat it as transient so nothing is lost.
      outcome = { kind: 'retry', code: 'ADAPTER_ERROR', reason: messageOfError(err) };
    }
    answering();
    const at = this.deps.clock.now();
    const ids = { messageId: row.id, channel: row.channel, worker: this.workerId, attempt: row.attempts };
    // The claim's time, so the outcome's write knows which waiting receipts can be this message's without reading it.
    const base = { id: row.id, at, channel: row.channel, claimedAt: fromDbTime(row.updated_at) ?? undefined };

    const lost = (recorded: boolean) => {
      // The lease ran out during the send and the message went back to the queue; its newer state stands.
      if (!recorded) this.deps.logger.warn('delivery.claim_lost', ids);
    };
    if (outcome.kind === 'accepted') {
      // A letter written for staff is not sent yet: it waits until they say they printed it.
      const stored = writer.record({
        ...base,
        status: row.channel === 'print' ? 'to_print' : 'sent',
        detail: outcome.reply,
        reply: outcome.reply,
        providerId: outcome.providerId,
        ...(outcome.account !== undefined ? { providerAccount: outcome.account } : {}),
      });
      stats.sent += 1;
      if (row.channel === 'sms') this.smsAccepted.push(row.id);
      this.deps.logger.info('delivery.sent', ids);
      return { stored: stored.then(lost) };
    }

    const maybe = outcome.kind === 'retry' && MAYBE_DELIVERED_CODES.has(outcome.code);
    const note = maybe ? 'maybe delivered (no answer came; the SMSC may have accepted it, so the next attempt may repeat it): ' : '';
    const budget = this.policy.maxAttempts[row.channel];
    if (outcome.kind === 'failed' || row.attempts >= budget) {
      const reason = outcome.kind === 'retry' ? `retry budget of ${budget} attempts spent; last: ${outcome.reason}` : outcome.reason;
      const stored = writer.record({
        ...base,
        status: 'failed',
        detail: `${note}${outcome.code}: ${reason}`,
        reason: `${outcome.code}: ${reason}`.slice(0, 255),
        reply: outcome.reason,
      });
      stats.failed += 1;
      this.deps.logger.warn('delivery.failed', { ...ids, code: outcome.code, maybeDelivered: maybe });
      return { stored: stored.then(lost) };
    }
    const wait = Math.max(backoffMs(row.attempts, this.policy), outcome.retryAfterMs ?? 0);
    const nextAttemptAt = new Date(at.getTime() + wait);
    const stored = writer.record({
      ...base,
      status: 'pending',
      detail: `${note}${outcome.code}: ${outcome.reason}; next attempt at ${nextAttemptAt.toISOString()}`,
      reason: `${outcome.code}: ${outcome.reason}`.slice(0, 255),
      reply: outcome.reason,
      nextAttemptAt,
    });
    stats.retried += 1;
    this.deps.logger.info('delivery.retry_scheduled', { ...ids, code: outcome.code, waitMs: wait, maybeDelivered: maybe });
    return { stored: stored.then(lost) };
  }

  /** For `kmc serve`: deliver, sleep, repeat, until stopped. */
  start(intervalMs = 15_000): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.deliverOnce();
        } catch (err) {
          this.deps.logger.error('delivery.loop_error', { worker: this.workerId, error: messageOfError(err) });
        }
        if (this.isStopping()) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, intervalMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
      }
    })();
  }

  /** Wakes the loop now, e.g. after a run queued new messages. */
  poke(): void {
    this.wake?.();
  }

  /**
   * Stops claiming; claimed messages not yet handed to a channel go back to
   * the queue at once; what is in flight finishes and is recorded.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.wakeRun?.();
    await this.loop;
    await this.current?.catch(() => undefined);
    this.loop = null;
  }
}
