/** Runs: the run log of every notice run and nightly job, and staff's review of a run before approval. */
export {
  RunStore,
  REVIEWABLE,
  routineIdOfJob,
  skippedRecordsOf,
  skipCountsOf,
  type SkippedRecord,
  type RunRow,
  type RunStatus,
  type RunSummary,
  type ReviewMessage,
  type ReviewItem,
  type MessageReview,
  type OpenRun,
} from './store';
