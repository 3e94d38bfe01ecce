// Structured logs.
export { createLogger, createMemoryLogger, type Logger } from './logger';
