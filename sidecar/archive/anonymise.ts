/**
 * The archive keeps every message, but not for ever with its contents:
 * messages older than the retention period lose their contact data and
 * their text (address, subject, body, server replies, the titles they
 * covered), while the rows themselves stay, so counts by day, type, channel
 * and status remain true. Each anonymised message gets an event saying so
 * (the queue's anonymise transition); its "last change" becomes the moment
 * of anonymisation.
 */
import { toDbTime } from '../db';
import type { Clock } from '../kernel';
import type { Logger } from '../logging';
import type { MessageStore } from '../queue';

export interface AnonymiseDeps {
  store: MessageStore;
  clock: Clock;
  logger: Logger;
}

export interface AnonymiseResult {
  /** Messages created before this instant (UTC) were due. */
  before: string;
  messages: number;
  items: number;
}

export async function anonymiseOldMessages(
  deps: AnonymiseDeps,
  opts: { retentionDays: number; batchSize?: number; actor?: string },
): Promise<AnonymiseResult> {
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) {
    throw new RangeError(`the retention period must be a whole number of days, at least 1 (got ${opts.retentionDays})`);
  }
  const { store, clock, logger } = deps;
  const before = toDbTime(new Date(clock.now().getTime() - opts.retentionDays * 86_400_000));
  const batchSize = opts.batchSize ?? 1000;
  const result: AnonymiseResult = { before, messages: 0, items: 0 };
  // Each batch starts where the last one ended, so the messages it passed (still on their way) are not read again.
  let from: Awaited<ReturnType<MessageStore['anonymiseBatch']>>['next'] = null;
  for (;;) {
    const done = await store.anonymiseBatch({
      from,
      before,
      batchSize,
      detail: `anonymised after ${opts.retentionDays} days`,
      actor: opts.actor ?? 'anonymiser',
      now: () => clock.now(),
    });
    result.messages += done.messages;
    result.items += done.items;
    from = done.next;
    if (done.messages < batchSize || !from) break;
  }
  logger.info('archive.anonymised', { messages: result.messages, items: result.items, before, retentionDays: opts.retentionDays });
  return result;
}
