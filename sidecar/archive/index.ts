/** The archive: messages past the retention period anonymised, by hand or each night. */
export { anonymiseOldMessages, type AnonymiseDeps, type AnonymiseResult } from './anonymise';
export { FINAL_STATUSES } from '../queue';
export { anonymiseForFire, startNightlyAnonymiser, ANONYMISE_JOB, type NightlyDeps } from './nightly';
export { archiveCommand, ARCHIVE_USAGE } from './cli';
