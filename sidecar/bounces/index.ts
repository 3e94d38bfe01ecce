export { classifyBounce, type ClassifyOptions } from './classify';
export { bouncesClassifyCommand, bouncesProcessCommand, type CommandOutput, type ReturnedMessageTaker } from './cli';
export { BounceIntake, type BounceIntakeDeps, type IntakeEffect, type IntakeResult } from './intake';
export { startBounceMailboxSchedule, type BounceMailboxSchedule } from './schedule';
export { startBounceListener, type BounceEnvelope, type BounceListener, type BounceListenerOptions } from './listener';
export {
  BOUNCE_RELATED_KINDS,
  pollBounceMailbox,
  type BounceMailboxOptions,
  type BounceMailboxPoll,
  type MailboxCheckpoint,
} from './poller';
export { BOUNCE_KINDS, type BounceKind, type BounceVerdict, type ReturnedMessage } from './verdict';
export { readVerpTag, returnPathFor, verpReturnPath, type VerpOptions } from './verp';
