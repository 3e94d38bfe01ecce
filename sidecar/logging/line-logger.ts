/**
 * The logger of one-off commands (`kmc run`, `kmc deliver --once`, ...): the
 * same JSON line per event as the long-running server's logger (logger.ts),
 * written straight to stderr without loading winston, so a command that logs
 * little starts smaller. A unit test holds the two to the same lines.
 */
import { EOL } from 'node:os';
import stringify from 'safe-stable-stringify';
import type { LogLevel } from '../config';
import type { Logger } from './logger';

/** The npm levels winston uses: a line is written when its level is at most the logger's. */
const SEVERITY: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 5 };

/** Like the server's logger: big integers are written as text, so no digit is lost when the line is read back. */
function bigIntAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function createLineLogger(level: LogLevel, opts: { silent?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.stream ?? process.stderr;
  // As in the server's logger, a filtered-out level costs one function call and reads no field.
  const quiet = (): void => {};
  const at = (lvl: LogLevel) =>
    opts.silent || SEVERITY[lvl] > SEVERITY[level]
      ? quiet
      : (event: string, fields: Record<string, unknown> = {}) => {
          const line: Record<string, unknown> = { level: lvl, message: event, event, ...fields };
          // A time the caller gave is kept, as the server's logger does.
          if (!line.timestamp) line.timestamp = new Date().toISOString();
          out.write(`${stringify(line, bigIntAsText)}${EOL}`);
        };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
