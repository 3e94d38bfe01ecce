// Structured logs.
export { createLogger, createMemoryLogger, type Logger } from './logger';
export { createLineLogger } from './line-logger';
