/**
 * The bounce mailbox polled at an interval: one poll at a time, the
 * checkpoint carried from one poll to the next, a failing poll logged and
 * tried again at the next turn.
 */
import type { Logger } from '../logging';
import { pollBounceMailbox, type BounceMailboxOptions, type BounceMailboxPoll, type MailboxCheckpoint } from './poller';

export interface BounceMailboxSchedule {
  /** Polls now (waiting for a poll under way first); the scheduled polls go on. */
  pollNow(): Promise<BounceMailboxPoll | null>;
  stop(): Promise<void>;
}

export function startBounceMailboxSchedule(
  opts: Omit<BounceMailboxOptions, 'after'> & { everyMs: number; logger: Logger },
): BounceMailboxSchedule {
  let checkpoint: MailboxCheckpoint | null = null;
  let running: Promise<BounceMailboxPoll | null> = Promise.resolve(null);
  let stopped = false;
  const once = async (): Promise<BounceMailboxPoll | null> => {
    try {
      const poll = await pollBounceMailbox({ ...opts, after: checkpoint });
      checkpoint = poll.checkpoint;
      // More waiting than one batch: the next batch goes at once.
      if (poll.more && !stopped) setImmediate(() => void next());
      return poll;
    } catch (err: unknown) {
      opts.logger.warn('bounces.mailbox.poll_failed', { host: opts.host, error: err instanceof Error ? err.message : String(err) });
      return null;
    }
  };
  const next = (): Promise<BounceMailboxPoll | null> => {
    running = running.then(() => (stopped ? null : once()));
    return running;
  };
  const timer = setInterval(() => void next(), opts.everyMs);
  timer.unref();
  void next();
  return {
    pollNow: next,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
