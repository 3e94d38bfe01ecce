/**
 * Anonymisation at night: once a day at a set local time. When several
 * sidecars share a database, the run log's unique (job, fire time) lets only
 * one of them do it.
 */
import schedule from 'node-schedule';
import type { Knex } from 'knex';
import { isDuplicateKey, toDbTime } from '../db';
import type { Logger } from '../logging';
import type { Clock } from '../notices';
import { libraryDay } from '../rendering/dates';
import { anonymiseOldMessages, type AnonymiseResult } from '.';

export const ANONYMISE_JOB = 'archive:anonymise';

export interface NightlyDeps {
  knex: Knex;
  clock: Clock;
  logger: Logger;
  settings: { retentionDays: number; anonymiseAt: string; timezone: string };
}

/**
 * Runs the anonymisation for one fire time, unless another instance already
 * took it. Returns null when it was taken.
 */
export async function anonymiseForFire(deps: NightlyDeps, fireTime: Date): Promise<AnonymiseResult | null> {
  const startedAt = deps.clock.now();
  let runId: number;
  try {
    const [id] = await deps.knex('kmc_runs').insert({
      job: ANONYMISE_JOB,
      fire_time: toDbTime(fireTime).slice(0, 19),
      run_date: libraryDay(fireTime, deps.settings.timezone),
      status: 'running',
      started_at: toDbTime(startedAt),
      started_by: 'scheduler',
    });
    runId = Number(id);
  } catch (err) {
    if (isDuplicateKey(err)) return null;
    throw err;
  }
  try {
    const result = await anonymiseOldMessages(deps, { retentionDays: deps.settings.retentionDays });
    await deps
      .knex('kmc_runs')
      .where({ id: runId })
      .update({ status: 'finished', finished_at: toDbTime(deps.clock.now()), stats: JSON.stringify(result) });
    return result;
  } catch (err) {
    await deps
      .knex('kmc_runs')
      .where({ id: runId })
      .update({ status: 'failed', finished_at: toDbTime(deps.clock.now()), error: (err as Error).message.slice(0, 2000) });
    throw err;
  }
}

/** Schedules the nightly run; stop() cancels it. */
export function startNightlyAnonymiser(deps: NightlyDeps): { stop(): void } {
  const [hour, minute] = deps.settings.anonymiseAt.split(':').map(Number);
  const job = schedule.scheduleJob({ rule: `${minute} ${hour} * * *`, tz: deps.settings.timezone }, (fireDate: Date) => {
    anonymiseForFire(deps, fireDate).catch((err: Error) => deps.logger.error('archive.anonymise_failed', { error: err.message }));
  });
  deps.logger.info('archive.anonymiser_scheduled', { at: deps.settings.anonymiseAt, timezone: deps.settings.timezone });
  return {
    stop() {
      job?.cancel();
    },
  };
}
