/**
 * Slows down guessing on the public verification page, per client address:
 *
 * - every request counts in a short sliding window (a flood is refused);
 * - every wrong link counts in a longer one; past the limit the client gets
 *   429 for further wrong links until old failures slide out.
 *
 * A refusal applies only to a wrong link: the page checks the link first (a
 * constant-time signature check, which costs the guesser and not the
 * database), and a link that checks out is always answered, so guesses from
 * one address never lock the patrons behind it out of their own links.
 *
 * The windows live in memory; failures are also written to
 * kmc_verification_failures (client as an HMAC, never in clear), so a
 * restart or a second sidecar behind the same address does not reset them.
 */
import type { VerificationStore } from './store';
import type { Clock } from '../kernel';
import { clientHash } from './tokens';

export interface RateLimitOptions {
  /** Wrong links allowed per client in failureWindowMs. */
  maxFailures: number;
  failureWindowMs: number;
  /** Requests allowed per client in requestWindowMs. */
  maxRequests: number;
  requestWindowMs: number;
  /** Clients remembered in memory at most; the oldest are forgotten first. */
  maxClients: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  maxFailures: 10,
  failureWindowMs: 15 * 60_000,
  maxRequests: 30,
  requestWindowMs: 60_000,
  maxClients: 50_000,
};

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number; why: 'requests' | 'failures' };

class Windows {
  private readonly byClient = new Map<string, number[]>();
  constructor(private readonly maxClients: number) {}

  /** Timestamps still inside the window, oldest first (older ones are dropped). */
  recent(client: string, since: number): number[] {
    const list = this.byClient.get(client);
    if (!list) return [];
    while (list.length && list[0] <= since) list.shift();
    if (!list.length) this.byClient.delete(client);
    return list;
  }

  add(client: string, at: number): void {
    let list = this.byClient.get(client);
    if (!list) {
      if (this.byClient.size >= this.maxClients) {
        const oldest = this.byClient.keys().next().value;
        if (oldest !== undefined) this.byClient.delete(oldest);
      }
      list = [];
      this.byClient.set(client, list);
    }
    list.push(at);
  }
}

export class VerificationRateLimiter {
  private readonly requests: Windows;
  private readonly failures: Windows;
  readonly limits: RateLimitOptions;

  constructor(
    private readonly deps: { store: VerificationStore; secret: string; clock: Clock },
    limits: Partial<RateLimitOptions> = {},
  ) {
    this.limits = { ...DEFAULT_RATE_LIMITS, ...limits };
    this.requests = new Windows(this.limits.maxClients);
    this.failures = new Windows(this.limits.maxClients);
  }

  /** Counts this request and says whether it may go on. */
  async admit(client: string): Promise<RateDecision> {
    const key = clientHash(this.deps.secret, client);
    const now = this.deps.clock.now().getTime();
    const requests = this.requests.recent(key, now - this.limits.requestWindowMs);
    if (requests.length >= this.limits.maxRequests) {
      return { ok: false, why: 'requests', retryAfterSeconds: seconds(requests[0] + this.limits.requestWindowMs - now) };
    }
    this.requests.add(key, now);

    const since = now - this.limits.failureWindowMs;
    const memory = this.failures.recent(key, since);
    let oldest: number | undefined = memory.at(0);
    let count = memory.length;
    if (count < this.limits.maxFailures) {
      const stored = await this.deps.store.failuresSince(key, new Date(since));
      if (stored.count > count) {
        count = stored.count;
        oldest = stored.first ? Date.parse(stored.first.replace(' ', 'T') + 'Z') : now;
      }
    }
    if (count >= this.limits.maxFailures) {
      return { ok: false, why: 'failures', retryAfterSeconds: seconds((oldest ?? now) + this.limits.failureWindowMs - now) };
    }
    return { ok: true };
  }

  /** A wrong link from this client. */
  async fail(client: string): Promise<void> {
    const key = clientHash(this.deps.secret, client);
    const at = this.deps.clock.now();
    this.failures.add(key, at.getTime());
    await this.deps.store.recordFailure(key, at);
  }
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
