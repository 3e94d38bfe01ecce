/**
 * Structured logs: one JSON line per event, with an `event` name and ids.
 * Patron contact data (addresses, numbers, names) only ever goes out at debug.
 */
import type { LogLevel } from '../config';

export interface Logger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
}

/**
 * The long-running server's logger. winston is loaded here, on first use, so
 * the one-off commands (which log through line-logger.ts) never load it.
 */
export function createLogger(level: LogLevel, opts: { silent?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, as said above
  const winston = require('winston') as typeof import('winston');
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] });
  const w = winston.createLogger({
    level,
    silent: opts.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    // winston types its Stream transport as an interface over TransportStream; at run time it is a TransportStream subclass.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [transport],
  });
  // The level is fixed for the logger's life, so whether a level writes is
  // decided once: a filtered-out call then costs a function call, with no
  // copying of its fields and no formatting.
  const quiet = (): void => {};
  const at = (lvl: LogLevel) =>
    opts.silent || !w.isLevelEnabled(lvl)
      ? quiet
      : (event: string, fields: Record<string, unknown> = {}) => {
          w.log({ level: lvl, message: event, event, ...fields });
        };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** For tests and library use: records lines in memory so tests can assert on them. */
export function createMemoryLogger(): Logger & { lines: Array<{ level: LogLevel; event: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: LogLevel; event: string; fields: Record<string, unknown> }> = [];
  const at =
    (level: LogLevel) =>
    (event: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, event, fields });
    };
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
