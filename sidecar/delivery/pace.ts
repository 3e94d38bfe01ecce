/**
 * Sending limits: how many messages may go within a span of time, per
 * recipient domain (Koha's message_domain_limits), per SMTP relay and per
 * SMS account. Each limit keeps the times of its recent sends; a message
 * that would go over a limit is held back until a place in it frees, while
 * messages under other limits go on.
 */
import { domainOfAddress, type SendingLimits } from '../config';
import type { ChannelName } from '../kernel';

/** One limit a message falls under. */
export interface PaceRule {
  /** What the count is kept by: `domain:example.com`, `smtp`, `sms:ACCOUNT`. */
  key: string;
  limit: number;
  windowMs: number;
  /** In words, for the message's history. */
  says: string;
}

/** A message held back: it may go at `at` (ms since the epoch), because of `rule`. */
export interface PaceHold {
  at: number;
  rule: PaceRule;
}

export class SendingPace {
  /** Send times (ms) per rule key, oldest first, only those still inside the rule's span. */
  private readonly sends = new Map<string, number[]>();

  constructor(private readonly limits: SendingLimits) {}

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
    for (const rule of rules) this.recent(rule, now).push(now);
    return null;
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
