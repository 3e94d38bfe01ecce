/** Branches: the sidecar's own settings for each Koha branch. */
export {
  BRANCH_MAIL_REFRESH_MS,
  BranchSettingsStore,
  type BranchSettingsRow,
  type BranchSettingsInput,
  type BranchSmsAccount,
  type BranchQuietHours,
  type BranchMail,
  type BranchMailInput,
  type BranchClosedDayHold,
  closedDayHoldTypes,
} from './store';
