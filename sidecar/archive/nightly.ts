/**
 * Anonymisation at night: once a day at a set local time. When several
 * sidecars share a database, the run log's unique (job, fire time) lets only
 * one of them do it.
 */
import type schedule from 'node-schedule';
import { libraryDay, type Clock } from '../kernel';
import type { Logger } from '../logging';
import type { MessageStore } from '../queue';
import type { RunStore } from '../runs';
import { anonymiseOldMessages, type AnonymiseResult } from './anonymise';

/** node-schedule, loaded when the nightly job is scheduled (commands that schedule nothing never load it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const scheduler = () => require('node-schedule') as typeof schedule;

export const ANONYMISE_JOB = 'archive:anonymise';

export interface NightlyDeps {
  store: MessageStore;
  /** The run log, where each fire is recorded once. */
  runs: RunStore;
  clock: Clock;
  logger: Logger;
  settings: { retentionDays: number; anonymiseAt: string; timezone: string };
}

/**
 * Runs the anonymisation for one fire time, unless another instance already
 * took it. Returns null when it was taken.
 */
export async function anonymiseForFire(deps: NightlyDeps, fireTime: Date): Promise<AnonymiseResult | null> {
  const runId = await deps.runs.open({
    job: ANONYMISE_JOB,
    fireTime,
    runDate: libraryDay(fireTime, deps.settings.timezone),
    startedBy: 'scheduler',
    at: deps.clock.now(),
  });
  if (runId === null) return null;
  try {
    const result = await anonymiseOldMessages(deps, { retentionDays: deps.settings.retentionDays });
    await deps.runs.finish(runId, result, deps.clock.now());
    return result;
  } catch (err) {
    await deps.runs.fail(runId, err instanceof Error ? err.message : String(err), deps.clock.now());
    throw err;
  }
}

/** Schedules the nightly run; stop() cancels it. */
export function startNightlyAnonymiser(deps: NightlyDeps): { stop(): void } {
  const [hour, minute] = deps.settings.anonymiseAt.split(':').map(Number);
  const job = scheduler().scheduleJob({ rule: `${minute} ${hour} * * *`, tz: deps.settings.timezone }, (fireDate: Date) => {
    anonymiseForFire(deps, fireDate).catch((err: unknown) => {
      deps.logger.error('archive.anonymise_failed', { error: err instanceof Error ? err.message : String(err) });
    });
  });
  deps.logger.info('archive.anonymiser_scheduled', { at: deps.settings.anonymiseAt, timezone: deps.settings.timezone });
  return {
    stop() {
      job.cancel();
    },
  };
}
