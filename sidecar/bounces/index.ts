export { classifyBounce } from './classify';
export { bouncesClassifyCommand, type CommandOutput } from './cli';
export { BOUNCE_KINDS, type BounceKind, type BounceVerdict, type ReturnedMessage } from './verdict';
