// SMS: routes each message to its branch's SMS account.
export {
  SmsRouter,
  accountLabel,
  availabilityOf,
  branchSettingsSource,
  routeFor,
  type AccountReceipt,
  type SmsAccountSource,
  type SmsAvailability,
  type SmsBranchAccount,
  type SmsClientOptions,
  type SmsLogger,
  type SmsRoute,
  type SmsRouterOptions,
} from './router';
