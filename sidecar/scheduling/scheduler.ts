/**
 * The scheduler: node-schedule fires each enabled routine at its times in
 * the library's time zone. Every fire goes through the run log, where
 * (job, fire time) is unique, so when several sidecars share a database one
 * of them runs it and the others step aside. At start, each library day a
 * routine missed while the sidecar was down is run once (under its own fire
 * time, so a second start does not run it again). SMS held for quiet hours
 * are released every minute. Routines are read again every few minutes, so
 * changes made on the staff pages take effect without a restart.
 */
import type schedule from 'node-schedule';

import { KmcError } from '../errors';
import type { Logger } from '../logging';
import { libraryDay, type Clock } from '../kernel';
import { lastFireOfEachDay, nextFire, parseCron, previousFire, type CronSchedule } from './cron';
import { routineRunFields, type Routine, type RoutineStore } from './routines';

/** node-schedule, loaded when the scheduler first arms a job (a command that schedules nothing never loads it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const scheduler = () => require('node-schedule') as typeof schedule;

/** What the scheduler asks the notice engine to run for one fire of a routine. */
export type RoutineRunRequest = ReturnType<typeof routineRunFields> & {
  date: string;
  startedBy: string;
  job: string;
  fireTime: Date;
  automated: boolean;
};

/** What the scheduler reads of a run's result. */
export interface RoutineRunResult {
  runId: number | null;
  created: number;
  dryRun: boolean;
  notRun?: 'disabled' | 'already_run';
}

export interface SchedulerDeps<R extends RoutineRunResult = RoutineRunResult> {
  /** Runs one fire (the notice engine's runNotices, given its dependencies by the composition root). */
  run: (req: RoutineRunRequest) => Promise<R>;
  /** The run log: whether a fire was already taken, and the last fire it holds of a job (what catch-up counts from). */
  runs: { fireTaken(job: string, fireTime: Date): Promise<boolean>; lastFire?(job: string): Promise<Date | null> };
  /** Moves SMS held for quiet hours that are over to the queue (the queue's release); returns how many. */
  releaseQuietHours: (actor: string) => Promise<number>;
  routines: RoutineStore;
  logger: Logger;
  clock: Clock;
  timezone: string;
  /** Called when a run or a release put messages in the queue (wakes the delivery worker). */
  onMessages?: () => void;
  /** How often routines are read again (default 5 minutes). */
  reloadEveryMs?: number;
}

/** Missed days caught up at most: a sidecar down longer than this leaves older days to staff. */
export const CATCH_UP_DAYS = 31;

/** The run log's job name for a routine's fires. */
export function routineJob(routine: Pick<Routine, 'id'>): string {
  return `routine:${routine.id}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function createdAt(routine: Routine): Date {
  return new Date(routine.created_at.replace(' ', 'T') + 'Z');
}

interface Armed {
  routine: Routine;
  at: Date;
  job: schedule.Job;
}

export class Scheduler<R extends RoutineRunResult = RoutineRunResult> {
  private armed = new Map<number, Armed>();
  private inFlight = new Set<Promise<unknown>>();
  private housekeeping: schedule.Job[] = [];
  private reloadTimer: NodeJS.Timeout | null = null;
  private started = false;

  constructor(private readonly deps: SchedulerDeps<R>) {}

  /** Runs one fire of a routine, as the schedule would; another instance may already have taken it. */
  async fire(routine: Routine, fireTime: Date): Promise<R> {
    const result = await this.deps.run({
      ...routineRunFields(routine),
      date: libraryDay(fireTime, this.deps.timezone),
      startedBy: 'scheduler',
      job: routineJob(routine),
      fireTime,
      automated: true,
    });
    this.deps.logger.info('schedule.fired', {
      routineId: routine.id,
      job: routineJob(routine),
      fireTime: fireTime.toISOString(),
      runId: result.runId,
      created: result.created,
      notRun: result.notRun ?? null,
    });
    if (result.created && !result.dryRun) this.deps.onMessages?.();
    return result;
  }

  /**
   * For each enabled routine, the fires missed while the sidecar was down
   * (after the routine was made and after the last fire the run log holds)
   * are run now, oldest first: the last fire of each missed library day, so
   * a daily routine covers each day it missed once, and for at most
   * `CATCH_UP_DAYS` days. A routine the run log has never seen fire catches
   * up its last fire only.
   */
  async catchUp(): Promise<R[]> {
    const now = this.deps.clock.now();
    const out: R[] = [];
    for (const routine of await this.deps.routines.list({ enabledOnly: true })) {
      if (!routine.schedule) continue;
      let missed: Date[];
      try {
        missed = await this.missedFires(routine, parseCron(routine.schedule), now);
      } catch (err) {
        this.deps.logger.error('schedule.invalid', { routineId: routine.id, error: messageOf(err) });
        continue;
      }
      for (const fireTime of missed) {
        if (await this.deps.runs.fireTaken(routineJob(routine), fireTime)) continue;
        this.deps.logger.info('schedule.catch_up', { routineId: routine.id, fireTime: fireTime.toISOString() });
        try {
          out.push(await this.fire(routine, fireTime));
        } catch (err) {
          this.logFailure(routine, fireTime, err);
        }
      }
    }
    return out;
  }

  private async missedFires(routine: Routine, cron: CronSchedule, now: Date): Promise<Date[]> {
    const { timezone } = this.deps;
    const prev = previousFire(cron, now, timezone);
    const made = createdAt(routine).getTime();
    if (!prev || prev.getTime() <= made) return [];
    const last = (await this.deps.runs.lastFire?.(routineJob(routine))) ?? null;
    if (!last || last.getTime() >= prev.getTime()) return [prev];
    const from = Math.max(last.getTime(), made, now.getTime() - CATCH_UP_DAYS * 86_400_000);
    return lastFireOfEachDay(cron, new Date(from), now, timezone);
  }

  /** Catches up, arms every enabled routine, and starts the minute-by-minute housekeeping. */
  async start(): Promise<{ caughtUp: R[] }> {
    if (this.started) return { caughtUp: [] };
    this.started = true;
    const caughtUp = await this.catchUp();
    await this.reload();
    this.housekeeping.push(scheduler().scheduleJob('kmc:quiet-hours', '* * * * *', () => void this.track(this.releaseQuietHours())));
    const every = this.deps.reloadEveryMs ?? 5 * 60_000;
    if (every > 0) {
      this.reloadTimer = setInterval(
        () =>
          void this.track(
            this.reload().catch((err: unknown) => {
              this.deps.logger.error('schedule.reload_failed', { error: messageOf(err) });
            }),
          ),
        every,
      );
    }
    this.deps.logger.info('schedule.started', { routines: this.armed.size, caughtUp: caughtUp.length });
    return { caughtUp };
  }

  /** Reads the routines again: new and changed ones are armed, removed and disabled ones disarmed. */
  async reload(): Promise<void> {
    const routines = (await this.deps.routines.list({ enabledOnly: true })).filter((r) => r.schedule);
    const keep = new Set(routines.map((r) => r.id));
    for (const [id, a] of this.armed) {
      const now = routines.find((r) => r.id === id);
      if (!keep.has(id) || !now || now.updated_at !== a.routine.updated_at || now.schedule !== a.routine.schedule) {
        a.job.cancel();
        this.armed.delete(id);
      }
    }
    for (const r of routines) if (!this.armed.has(r.id)) this.arm(r, this.deps.clock.now());
  }

  /** What is armed: each routine's next fire. */
  scheduled(): Array<{ routineId: number; name: string; next: Date; nodeScheduleNext: Date | null }> {
    return [...this.armed.values()].map((a) => {
      const n = a.job.nextInvocation() as unknown as { toDate?: () => Date } | Date | null;
      const nodeNext = n ? (n instanceof Date ? n : n.toDate ? n.toDate() : null) : null;
      return { routineId: a.routine.id, name: a.routine.name, next: a.at, nodeScheduleNext: nodeNext };
    });
  }

  async releaseQuietHours(): Promise<number> {
    try {
      const n = await this.deps.releaseQuietHours('scheduler');
      if (n) this.deps.onMessages?.();
      return n;
    } catch (err) {
      this.deps.logger.error('quiet_hours.release_failed', { error: messageOf(err) });
      return 0;
    }
  }

  /** Stops firing; runs in progress finish. */
  async stop(): Promise<void> {
    this.started = false;
    for (const a of this.armed.values()) a.job.cancel();
    this.armed.clear();
    for (const j of this.housekeeping) j.cancel();
    this.housekeeping = [];
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    this.reloadTimer = null;
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private arm(routine: Routine, after: Date): void {
    let at: Date | null;
    try {
      if (!routine.schedule) return;
      at = nextFire(parseCron(routine.schedule), after, this.deps.timezone);
    } catch (err) {
      this.deps.logger.error('schedule.invalid', { routineId: routine.id, error: messageOf(err) });
      return;
    }
    if (!at) return;
    const job = scheduler().scheduleJob(`routine:${routine.id}:${at.toISOString()}`, at, () => {
      this.armed.delete(routine.id);
      const run = this.fire(routine, at)
        .catch((err: unknown) => {
          this.logFailure(routine, at, err);
        })
        .finally(() => {
          // The next fire counts from this one (or from now, if a long run passed it).
          if (this.started && !this.armed.has(routine.id))
            this.arm(routine, new Date(Math.max(at.getTime(), this.deps.clock.now().getTime())));
        });
      void this.track(run);
    });
    // node-schedule gives no job for an instant already past (a clock behind the wall clock): nothing to arm.
    // (Its typings say a job always comes back.)
    if ((job as schedule.Job | null) !== null) this.armed.set(routine.id, { routine, at, job });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private logFailure(routine: Routine, fireTime: Date, err: unknown): void {
    this.deps.logger.error('schedule.run_failed', {
      routineId: routine.id,
      fireTime: fireTime.toISOString(),
      code: err instanceof KmcError ? err.code : 'KMC_INTERNAL',
      error: messageOf(err),
    });
  }
}
