/**
 * The delivery worker: claims due messages, hands each to its channel's
 * adapter, and records the outcome. Transient failures come back later with
 * jittered exponential backoff until the channel's retry budget is spent.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ChannelAdapter, ChannelName, OutgoingMessage, SendOutcome } from '../channels/contract';
import { messageIdFor } from '../channels/smtp';
import type { MessageRow, MessageStore } from '../queue';
import type { HostReader } from '../host';
import type { Logger } from '../logging';
import type { Clock } from '../notices/context';

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
  batchSize?: number;
  concurrency?: number;
  leaseMs?: number;
  retryPolicy?: RetryPolicy;
}

export class DeliveryWorker {
  readonly workerId: string;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: DeliveryDeps) {
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  private get policy(): RetryPolicy {
    return this.deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
  }

  /** Delivers everything due now, batch after batch, and returns. */
  async deliverOnce(): Promise<DeliveryStats> {
    const stats: DeliveryStats = { sent: 0, failed: 0, retried: 0, held: 0, claimed: 0 };
    const channels = Object.keys(this.deps.adapters) as ChannelName[];
    for (;;) {
      if (this.stopping) break;
      // The toggle is read before every batch: switching off in Koha stops sending within one batch.
      if (!(await this.deps.host.isEnabled(this.deps.pluginClass))) {
        stats.disabled = true;
        this.deps.logger.info('delivery.skipped_disabled', { worker: this.workerId });
        break;
      }
      const now = this.deps.clock.now();
      await this.deps.store.releaseExpiredLeases(now, this.workerId);
      const batch = await this.deps.store.claimDue({
        channels,
        limit: this.deps.batchSize ?? 50,
        workerId: this.workerId,
        leaseMs: this.deps.leaseMs ?? 5 * 60_000,
        now,
      });
      if (!batch.length) break;
      stats.claimed += batch.length;
      await this.runLimited(batch, (row) => this.deliver(row, stats));
    }
    stats.held = (await this.deps.store.countByStatus()).held ?? 0;
    return stats;
  }

  private async runLimited(rows: MessageRow[], fn: (row: MessageRow) => Promise<void>): Promise<void> {
    const queue = [...rows];
    const workers = Array.from({ length: Math.min(this.deps.concurrency ?? 10, queue.length) }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) await fn(row);
    });
    await Promise.all(workers);
  }

  private async deliver(row: MessageRow, stats: DeliveryStats): Promise<void> {
    const adapter = this.deps.adapters[row.channel]!;
    const messageIdHeader = row.channel === 'email' ? row.message_id_header ?? messageIdFor(row.id, row.from_address ?? '') : null;
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
    };
    let outcome: SendOutcome;
    try {
      outcome = await adapter.send(outgoing);
    } catch (err) {
      // An adapter that throws broke its contract; treat it as transient so nothing is lost.
      outcome = { kind: 'retry', code: 'ADAPTER_ERROR', reason: (err as Error).message };
    }
    const at = this.deps.clock.now();
    const ids = { messageId: row.id, channel: row.channel, worker: this.workerId, attempt: row.attempts };
    if (outcome.kind === 'accepted') {
      await this.deps.store.complete(row.id, this.workerId, {
        status: 'sent',
        detail: outcome.reply,
        reply: outcome.reply,
        providerId: outcome.providerId,
        messageIdHeader,
        at,
      });
      stats.sent += 1;
      this.deps.logger.info('delivery.sent', ids);
      return;
    }
    const budget = this.policy.maxAttempts[row.channel];
    if (outcome.kind === 'failed' || row.attempts >= budget) {
      const reason = outcome.kind === 'retry' ? `retry budget of ${budget} attempts spent; last: ${outcome.reason}` : outcome.reason;
      await this.deps.store.complete(row.id, this.workerId, {
        status: 'failed',
        detail: `${outcome.code}: ${reason}`,
        reason: `${outcome.code}: ${reason}`.slice(0, 255),
        reply: outcome.reason,
        messageIdHeader,
        at,
      });
      stats.failed += 1;
      this.deps.logger.warn('delivery.failed', { ...ids, code: outcome.code });
      return;
    }
    const wait = Math.max(backoffMs(row.attempts, this.policy), outcome.retryAfterMs ?? 0);
    const nextAttemptAt = new Date(at.getTime() + wait);
    await this.deps.store.complete(row.id, this.workerId, {
      status: 'pending',
      detail: `${outcome.code}: ${outcome.reason}; next attempt at ${nextAttemptAt.toISOString()}`,
      reason: `${outcome.code}: ${outcome.reason}`.slice(0, 255),
      reply: outcome.reason,
      messageIdHeader,
      nextAttemptAt,
      at,
    });
    stats.retried += 1;
    this.deps.logger.info('delivery.retry_scheduled', { ...ids, code: outcome.code, waitMs: wait });
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
          this.deps.logger.error('delivery.loop_error', { worker: this.workerId, error: (err as Error).message });
        }
        if (this.stopping) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, intervalMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    })();
  }

  /** Wakes the loop now, e.g. after a run queued new messages. */
  poke(): void {
    this.wake?.();
  }

  /** Stops claiming; what is in flight finishes and is recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }
}
