/** Scheduling: routines, their cron schedules in the library's time zone, and the scheduler. */
export { Scheduler, routineJob, type SchedulerDeps } from './scheduler';
export { RoutineStore, ROUTINE_TYPES, parseCriteria, routineRunFields, validateRoutine, type Routine, type RoutineInput } from './routines';
export { parseCron, nextFire, previousFire, firesBetween, cronMatches, wallClock, type CronSchedule } from './cron';
