/** Scheduling: routines, their cron schedules in the library's time zone, the scheduler, and routine editing for staff. */
export { Scheduler, routineJob, type SchedulerDeps, type RoutineRunRequest, type RoutineRunResult } from './scheduler';
export {
  RoutineStore,
  ROUTINE_TYPES,
  parseCriteria,
  routineRunFields,
  validateRoutine,
  type Routine,
  type RoutineInput,
  type RoutineCriteria,
} from './routines';
export { RoutineEditor, routineFromForm, type RoutineForm, type FieldError, type RoutineProblem } from './editing';
export { parseCron, nextFire, previousFire, firesBetween, lastFireOfEachDay, cronMatches, wallClock, type CronSchedule } from './cron';
export { SCHEDULE_KINDS, choiceFromForm, choiceOfCron, cronOfChoice, type ScheduleChoice, type ScheduleKind } from './choices';
