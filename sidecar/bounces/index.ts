export { classifyBounce, type ClassifyOptions } from './classify';
export { bouncesClassifyCommand, type CommandOutput } from './cli';
export { BOUNCE_KINDS, type BounceKind, type BounceVerdict, type ReturnedMessage } from './verdict';
export { startBounceListener, type BounceEnvelope, type BounceListener, type BounceListenerOptions } from './listener';
export { readVerpTag, verpReturnPath, type VerpOptions } from './verp';
