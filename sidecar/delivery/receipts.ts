/**
 * Delivery receipts for a process that does not stay: `kmc deliver --once`
 * sends, then stays bound to the SMSC for a bounded time so the receipts of
 * what it just sent (and those the SMSC offers again on bind) reach their
 * messages before it exits. Under `kmc serve` the sessions stay bound and
 * receipts arrive whenever the SMSC sends them; nothing here is needed.
 */
import type { MessageStore } from '../queue';
import type { Logger } from '../logging';

/** Counts the receipts this process took and keeps the recording of each until it is stored. */
export class ReceiptTally {
  private count = 0;
  private lastAt = 0;
  private readonly recording = new Set<Promise<unknown>>();

  /** Called for each receipt as it arrives, with the promise that stores it. */
  track(recorded: Promise<unknown>): void {
    this.count += 1;
    this.lastAt = Date.now();
    const kept = recorded.catch(() => undefined).finally(() => this.recording.delete(kept));
    this.recording.add(kept);
  }

  /** Receipts taken since the process started. */
  taken(): number {
    return this.count;
  }

  /** When the last receipt arrived (ms since the epoch; 0: none yet). */
  lastReceiptAt(): number {
    return this.lastAt;
  }

  /** Resolves once every receipt taken so far is stored (or its storing gave up). */
  async settled(): Promise<void> {
    while (this.recording.size) await Promise.all([...this.recording]);
  }
}

export interface ReceiptWaitDeps {
  store: Pick<MessageStore, 'countStillIn'>;
  tally: ReceiptTally;
  logger: Logger;
}

export interface ReceiptWaitOptions {
  /** The SMS this process sent and the SMSC accepted: the wait ends early once none is still `sent`. */
  sentIds: readonly number[];
  /** The longest the wait lasts (KMC_SMS_RECEIPT_WAIT_SECONDS). */
  waitMs: number;
  /** The wait also lasts until no receipt has come for this long, so a burst offered on bind is taken whole (default 1 s). */
  quietMs?: number;
  /** How often the messages are looked at (default 200 ms). */
  pollMs?: number;
}

export interface ReceiptWaitResult {
  /** Sent SMS of this process still without a receipt when the wait ended. */
  stillSent: number;
  /** True when the wait ran out its time rather than ending early. */
  timedOut: boolean;
}

/**
 * Waits for receipts: until every SMS of `sentIds` has left `sent` and no
 * receipt came for `quietMs`, or `waitMs` has passed; then until the
 * receipts taken are stored. With `waitMs` 0 it only waits for the storing.
 */
export async function waitForReceipts(deps: ReceiptWaitDeps, opts: ReceiptWaitOptions): Promise<ReceiptWaitResult> {
  const started = Date.now();
  const quietMs = opts.quietMs ?? 1000;
  const pollMs = opts.pollMs ?? 200;
  let stillSent = opts.sentIds.length;
  let timedOut = false;
  if (opts.waitMs > 0) {
    for (;;) {
      await deps.tally.settled();
      stillSent = await deps.store.countStillIn(opts.sentIds, 'sent');
      const now = Date.now();
      const quietSince = Math.max(started, deps.tally.lastReceiptAt());
      if (stillSent === 0 && now - quietSince >= quietMs) break;
      if (now - started >= opts.waitMs) {
        timedOut = true;
        break;
      }
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, started + opts.waitMs - now))));
    }
  }
  await deps.tally.settled();
  deps.logger.info('delivery.receipt_wait_done', {
    receipts: deps.tally.taken(),
    stillSent,
    timedOut,
    waitedMs: Date.now() - started,
  });
  return { stillSent, timedOut };
}
