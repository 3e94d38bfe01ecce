export { classifyBounce, type ClassifyOptions } from './classify';
export { bouncesClassifyCommand, type CommandOutput } from './cli';
export { startBounceListener, type BounceEnvelope, type BounceListener, type BounceListenerOptions } from './listener';
export {
  BOUNCE_RELATED_KINDS,
  pollBounceMailbox,
  type BounceMailboxOptions,
  type BounceMailboxPoll,
  type MailboxCheckpoint,
} from './poller';
export { BOUNCE_KINDS, type BounceKind, type BounceVerdict, type ReturnedMessage } from './verdict';
export { readVerpTag, verpReturnPath, type VerpOptions } from './verp';
