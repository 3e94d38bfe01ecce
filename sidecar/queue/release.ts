/**
 * The quiet-hours and closed-day release as a job: the scheduler runs it
 * every minute and the delivery worker before each batch.
 */
import type { Clock } from '../kernel';
import type { Logger } from '../logging';
import type { QuietHours } from './quiet-hours';
import type { ClosedDays } from './closed-days';
import type { MessageStore } from './store';

export interface QuietReleaseDeps {
  store: MessageStore;
  /** The branches' quiet hours as they are set now. */
  quietHours: () => Promise<QuietHours>;
  /** The branches' closed-day holds and Koha's calendars as they are now; absent: no branch holds any. */
  closedDays?: () => Promise<ClosedDays>;
  clock: Clock;
  logger: Logger;
}

/** Moves SMS held for quiet hours that are over to the queue; returns how many. */
export async function releaseQuietHours(deps: QuietReleaseDeps, actor = 'quiet-hours'): Promise<number> {
  const now = deps.clock.now();
  const quiet = await deps.quietHours();
  // Closed days first: a message the branch's opening lets go may still meet its quiet hours. A hold switched off
  // since lets its messages go too.
  const closed = deps.closedDays ? await deps.closedDays() : null;
  const reopened = closed ? await deps.store.releaseClosedDays(closed, quiet, now, actor) : 0;
  if (reopened) deps.logger.info('closed_day.released', { released: reopened });
  const released = await deps.store.releaseQuietHours(quiet, now, actor, closed);
  if (released) deps.logger.info('quiet_hours.released', { released });
  return released + reopened;
}
