/**
 * Sending limits: how many messages may go within a span of time, per
 * recipient domain (Koha's message_domain_limits), per SMTP relay and per
 * SMS account. Each limit keeps the times of its recent sends; a message
 * that would go over a limit is held back until a place in it frees, while
 * messages under other limits go on.
 *
 * With shared counts (kmc_send_counts) a limit also holds across workers and
 * restarts: before sending, this worker takes places in the limit's current
 * span (its minute, hour, day or second) a few at a time, and gives back the
 * ones it did not use when its round ends.
 */
import { domainOfAddress, type SendingLimits } from '../config';
import type { ChannelName } from '../kernel';
import type { SendCountStore } from './send-counts';

/** One limit a message falls under. */
export interface PaceRule {
  /** What the count is kept by: `domain:example.com`, `smtp`, `sms:ACCOUNT`. */
  key: string;
  limit: number;
  windowMs: number;
  /** In words, for the message's history. */
  says: string;
}

/**
 * A message held back: it may go at `at` (ms since the epoch), because of `rule`. With `taking`, the worker
 * is taking places in the shared count: the message is asked about again once that has settled.
 */
export interface PaceHold {
  at: number;
  rule: PaceRule;
  taking?: Promise<void>;
}

/** Places this worker holds in a limit's current span of the shared count. */
interface Places {
  windowStart: number;
  left: number;
  /** The span is full: no more places in it for anyone. */
  full: boolean;
}

export class SendingPace {
  /** Send times (ms) per rule key, oldest first, only those still inside the rule's span. */
  private readonly sends = new Map<string, number[]>();
  private readonly places = new Map<string, Places>();
  private readonly taking = new Map<string, Promise<void>>();

  constructor(
    private readonly limits: SendingLimits,
    private readonly counts?: SendCountStore,
  ) {}

  /** True when no limit is set at all (the worker then asks nothing). */
  get unlimited(): boolean {
    return !this.limits.domains.length && !this.limits.smtpPerMinute && !this.limits.smsPerSecond;
  }

  /** The limits a message to `to` by `channel` falls under; `account` names the SMS account that carries it. */
  rulesFor(channel: ChannelName, to: string, account: string | null): PaceRule[] {
    const rules: PaceRule[] = [];
    if (channel === 'email') {
      const domain = domainOfAddress(to);
      if (domain) {
        const counted = this.limits.belongsTo[domain] ?? domain;
        const limit = this.limits.domains.find((d) => d.domain === counted);
        if (limit) {
          rules.push({
            key: `domain:${limit.domain}`,
            limit: limit.limit,
            windowMs: limit.windowMs,
            says: `the limit of ${String(limit.limit)} messages per ${limit.unit} to ${limit.domain}${counted === domain ? '' : ` (which ${domain} belongs to)`}`,
          });
        }
      }
      if (this.limits.smtpPerMinute) {
        const n = this.limits.smtpPerMinute;
        rules.push({
          key: 'smtp',
          limit: n,
          windowMs: 60_000,
          says: `the limit of ${String(n)} messages per minute through the mail relay`,
        });
      }
    } else if (channel === 'sms' && this.limits.smsPerSecond) {
      const n = this.limits.smsPerSecond;
      const who = account ?? 'the default account';
      rules.push({ key: `sms:${who}`, limit: n, windowMs: 1000, says: `the limit of ${String(n)} SMS per second of ${who}` });
    }
    return rules;
  }

  /**
   * Whether a message under these rules may go at `now` (ms): null when it
   * may, and its send is counted; otherwise when it may go, and which limit
   * holds it back (nothing is counted).
   */
  take(rules: readonly PaceRule[], now: number): PaceHold | null {
    let hold: PaceHold | null = null;
    for (const rule of rules) {
      const times = this.recent(rule, now);
      if (times.length >= rule.limit) {
        // The place of the oldest send that must leave the span frees at its time plus the span.
        const at = times[times.length - rule.limit] + rule.windowMs;
        if (!hold || at > hold.at) hold = { at, rule };
      }
    }
    if (hold) return hold;
    if (this.counts) {
      const needed: PaceRule[] = [];
      for (const rule of rules) {
        const start = windowStartOf(rule, now);
        const held = this.places.get(rule.key);
        if (held && held.windowStart === start && held.left > 0) continue;
        if (held && held.windowStart === start && held.full) {
          // Every place of this span is taken, by this worker or others: the next span.
          const at = start + rule.windowMs;
          if (!hold || at > hold.at) hold = { at, rule };
          continue;
        }
        needed.push(rule);
      }
      if (hold) return hold;
      if (needed.length) return { at: now, rule: needed[0], taking: this.takePlaces(this.counts, needed, now) };
      for (const rule of rules) {
        const held = this.places.get(rule.key);
        if (held) held.left -= 1;
      }
    }
    for (const rule of rules) this.recent(rule, now).push(now);
    return null;
  }

  /** Takes places in the shared count for these limits' current spans; one taking per limit at a time. */
  private takePlaces(counts: SendCountStore, rules: readonly PaceRule[], now: number): Promise<void> {
    return Promise.all(
      rules.map((rule) => {
        const already = this.taking.get(rule.key);
        if (already) return already;
        const start = windowStartOf(rule, now);
        // A few at a time, so another worker sharing the limit finds places too.
        const want = Math.max(1, Math.ceil(rule.limit / 10));
        const taking = (async () => {
          const held = this.places.get(rule.key);
          const carried = held && held.windowStart === start ? held.left : 0;
          const got = await counts.take(rule.key, new Date(start), want, rule.limit);
          this.places.set(rule.key, { windowStart: start, left: carried + got, full: got < want });
        })().finally(() => this.taking.delete(rule.key));
        this.taking.set(rule.key, taking);
        return taking;
      }),
    ).then(() => undefined);
  }

  /** Gives back the places of current spans this worker took and did not use (at the end of its round). */
  async giveBack(now: number): Promise<void> {
    if (!this.counts) return;
    await Promise.allSettled([...this.taking.values()]);
    if (!this.places.size) return;
    const back = [...this.places.entries()];
    this.places.clear();
    for (const [key, held] of back) {
      if (held.left > 0) await this.counts.giveBack(key, new Date(held.windowStart), held.left);
    }
    await this.counts.forgetBefore(new Date(now));
  }

  /** The sends of a rule within (now - span, now], older ones forgotten. */
  private recent(rule: PaceRule, now: number): number[] {
    let times = this.sends.get(rule.key);
    if (!times) {
      times = [];
      this.sends.set(rule.key, times);
    }
    let old = 0;
    while (old < times.length && times[old] <= now - rule.windowMs) old += 1;
    if (old) times.splice(0, old);
    return times;
  }
}

/** The start of the span of the shared count `now` falls in: spans are aligned to the epoch. */
function windowStartOf(rule: PaceRule, now: number): number {
  return Math.floor(now / rule.windowMs) * rule.windowMs;
}
