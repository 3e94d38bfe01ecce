/**
 * The quiet-hours release as a job: the scheduler runs it every minute and
 * the delivery worker before each batch.
 */
import type { Clock } from '../kernel';
import type { Logger } from '../logging';
import type { QuietHours } from './quiet-hours';
import type { MessageStore } from './store';

export interface QuietReleaseDeps {
  store: MessageStore;
  /** The branches' quiet hours as they are set now. */
  quietHours: () => Promise<QuietHours>;
  clock: Clock;
  logger: Logger;
}

/** Moves SMS held for quiet hours that are over to the queue; returns how many. */
export async function releaseQuietHours(deps: QuietReleaseDeps, actor = 'quiet-hours'): Promise<number> {
  const now = deps.clock.now();
  const released = await deps.store.releaseQuietHours(await deps.quietHours(), now, actor);
  if (released) deps.logger.info('quiet_hours.released', { released });
  return released;
}
