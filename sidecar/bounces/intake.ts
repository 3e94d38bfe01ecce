/**
 * What a returned message does, however it arrived (the listener, the
 * mailbox, `kmc bounces process`): it is classified; only a hard or soft
 * bounce or a complaint whose return path carries a genuine VERP tag of one of
 * our e-mail notices changes anything. Then the notice moves to `bounced`,
 * the address's state moves, and a bounced notice still relevant is replaced
 * by the next channel its rule allows. An auto-reply, a delivery report,
 * ordinary mail or a forged tag change nothing.
 */
import type { AddressChange, AddressState, BounceRecord } from '../address-states';
import type { Clock } from '../kernel';
import type { Logger } from '../logging';
import type { BounceReport, MessageRow, MessageStatus, Replacement } from '../queue';
import { classifyBounce } from './classify';
import type { BounceKind, BounceVerdict } from './verdict';
import { readVerpTag } from './verp';

export interface BounceIntakeDeps {
  /** The secrets VERP tags are signed with (the current one first). */
  secrets: readonly string[];
  messages: {
    get(id: number): Promise<MessageRow | null>;
    recordBounce(
      id: number,
      report: BounceReport,
      at: Date,
      actor: string,
    ): Promise<{ before: MessageStatus; after: MessageStatus } | null>;
  };
  addresses: { recordBounce(b: BounceRecord): Promise<AddressChange> };
  /** Replaces a bounced notice by the next channel its rule allows, when it is still relevant. */
  replace?: (messageId: number, actor: string) => Promise<Replacement>;
  clock: Clock;
  logger: Logger;
}

/** What became of one returned message. */
export type IntakeEffect =
  /** The notice moved to bounced (or, for a complaint, got a line in its history). */
  | 'recorded'
  /** An auto-reply, a delivery report, ordinary mail or an unreadable report: nothing changes. */
  | 'ignored'
  /** No VERP tag of ours in its return path. */
  | 'no_tag'
  /** A VERP tag whose signature is wrong: nothing changes. */
  | 'forged'
  /** A genuine tag for a message that is not (any more) an e-mail notice here. */
  | 'unknown_message';

export interface IntakeResult {
  kind: BounceKind;
  effect: IntakeEffect;
  messageId: number | null;
  /** The message's status after, when it was recorded. */
  status: MessageStatus | null;
  /** The address's state after, when it was recorded. */
  addressState: AddressState | null;
  replacement: Replacement | null;
  verdict: BounceVerdict;
}

const ACTED_ON: ReadonlySet<BounceKind> = new Set<BounceKind>(['hard', 'soft', 'complaint']);

export class BounceIntake {
  constructor(private readonly deps: BounceIntakeDeps) {}

  /** Classifies one returned message and applies what it says; `envelopeTo` (the listener's RCPT TO) is read before the headers. */
  async take(raw: Buffer, opts: { envelopeTo?: string[]; actor: string }): Promise<IntakeResult> {
    const verdict = await classifyBounce(raw, opts.envelopeTo ? { envelopeTo: opts.envelopeTo } : undefined);
    const result: IntakeResult = {
      kind: verdict.kind,
      effect: 'ignored',
      messageId: null,
      status: null,
      addressState: null,
      replacement: null,
      verdict,
    };
    const log = this.deps.logger;
    if (!ACTED_ON.has(verdict.kind)) {
      log.debug('bounces.ignored', { kind: verdict.kind });
      return result;
    }
    if (!verdict.verpTag) {
      result.effect = 'no_tag';
      log.info('bounces.no_tag', { kind: verdict.kind });
      return result;
    }
    const tag = readVerpTag(verdict.verpTag, this.deps.secrets);
    if (!tag) {
      result.effect = 'forged';
      log.warn('bounces.forged_tag', { kind: verdict.kind });
      return result;
    }
    result.messageId = tag.messageId;
    const message = await this.deps.messages.get(tag.messageId);
    if (!message || message.channel !== 'email' || !message.to_address) {
      result.effect = 'unknown_message';
      log.info('bounces.unknown_message', { messageId: tag.messageId, kind: verdict.kind });
      return result;
    }
    const kind = verdict.kind as BounceReport['kind'];
    const at = this.deps.clock.now();
    const report: BounceReport = { kind, status: verdict.status, reason: verdict.reason, diagnostic: verdict.diagnostic };
    const moved = await this.deps.messages.recordBounce(message.id, report, at, opts.actor);
    const change = await this.deps.addresses.recordBounce({
      messageId: message.id,
      borrowernumber: message.borrowernumber,
      address: message.to_address,
      ...report,
      at,
    });
    result.effect = 'recorded';
    result.status = moved?.after ?? message.status;
    result.addressState = change.after;
    log.info('bounces.recorded', {
      messageId: message.id,
      borrowernumber: message.borrowernumber,
      kind,
      status: verdict.status,
      messageStatus: result.status,
      addressState: change.after,
    });
    // Only the report that moved the notice replaces it: a second report of the same notice makes nothing more.
    if (moved?.after === 'bounced' && moved.before !== 'bounced' && this.deps.replace) {
      result.replacement = await this.deps.replace(message.id, opts.actor);
      log.info('bounces.replacement', { messageId: message.id, ...result.replacement });
    }
    return result;
  }
}
