/** Branches: the sidecar's own settings for each Koha branch. */
export {
  BranchSettingsStore,
  type BranchSettingsRow,
  type BranchSettingsInput,
  type BranchSmsAccount,
  type BranchQuietHours,
  type BranchMail,
  type BranchMailInput,
} from './store';
