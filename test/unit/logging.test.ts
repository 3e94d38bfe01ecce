import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { createLineLogger, createLogger, type Logger } from '../../sidecar/logging';
import type { LogLevel } from '../../sidecar/config';

/** A stream that keeps every JSON line written to it. */
function capture(): { stream: PassThrough; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Fields that count how often they are read: a filtered-out call must not read them at all. */
function countingFields(): { fields: Record<string, unknown>; reads: () => number } {
  let reads = 0;
  const fields = {};
  Object.defineProperty(fields, 'messageId', {
    enumerable: true,
    get: () => {
      reads += 1;
      return 42;
    },
  });
  return { fields, reads: () => reads };
}

const tick = () => new Promise((r) => setImmediate(r));

type MakeLogger = (level: LogLevel, opts: { silent?: boolean; stream?: NodeJS.WritableStream }) => Logger;

/** The server's logger (winston) and the one-off commands' logger: each must behave the same. */
const LOGGERS: Array<[string, MakeLogger]> = [
  ['the server logger', createLogger],
  ['the command logger', createLineLogger],
];

for (const [which, createLogger] of LOGGERS) {
  describe(`logging: ${which}`, () => {
    it('writes the levels at and above its own, with the event name and fields', async () => {
      const out = capture();
      const log = createLogger('info', { stream: out.stream });
      log.info('run.started', { runId: 7 });
      log.warn('run.slow', { runId: 7 });
      log.debug('run.detail', { runId: 7 });
      await tick();
      const lines = out.lines();
      expect(lines.map((l) => [l.level, l.event, l.runId])).to.deep.equal([
        ['info', 'run.started', 7],
        ['warn', 'run.slow', 7],
      ]);
      expect(lines[0].timestamp).to.be.a('string');
    });

    it('does no work for a level that is filtered out: its fields are never read', async () => {
      const out = capture();
      const log = createLogger('warn', { stream: out.stream });
      const filtered = countingFields();
      log.info('message.sent', filtered.fields);
      log.debug('message.sent', filtered.fields);
      const kept = countingFields();
      log.error('message.failed', kept.fields);
      await tick();
      expect(filtered.reads()).to.equal(0);
      expect(kept.reads()).to.be.greaterThan(0);
      expect(out.lines().map((l) => [l.event, l.messageId])).to.deep.equal([['message.failed', 42]]);
    });

    it('reads nothing and writes nothing when silent', async () => {
      const out = capture();
      const log = createLogger('debug', { stream: out.stream, silent: true });
      const fields = countingFields();
      log.error('message.failed', fields.fields);
      await tick();
      expect(fields.reads()).to.equal(0);
      expect(out.lines()).to.deep.equal([]);
    });

    it('at debug writes every level', async () => {
      const out = capture();
      const log = createLogger('debug', { stream: out.stream });
      log.debug('a');
      log.info('b');
      log.warn('c');
      log.error('d');
      await tick();
      expect(out.lines().map((l) => l.level)).to.deep.equal(['debug', 'info', 'warn', 'error']);
    });
  });
}

describe("logging: the command logger writes the server logger's lines", () => {
  /** The same calls to both loggers; their raw lines, with each written time replaced by a mark. */
  async function linesOf(make: MakeLogger, level: LogLevel, calls: (log: Logger) => void): Promise<string[]> {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    calls(make(level, { stream }));
    await tick();
    return chunks
      .join('')
      .split(/(?<=\n)/)
      .map((line) => line.replace(/"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/, '"timestamp":"<now>"'));
  }

  it('byte for byte, for every level and for fields of every kind', async () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const calls = (log: Logger): void => {
      log.error('delivery.failed', { messageId: 12, reason: 'refused: 550 "no such user"', attempts: [1, 2, 3] });
      log.warn('run.slow', { zeta: 1, alpha: { nested: true, list: [{ b: 2, a: 1 }] }, runId: 7 });
      log.info('archive.anonymised', { count: 0, at: new Date('2026-11-24T10:00:00Z'), none: null, gone: undefined });
      log.info('plain');
      log.debug('patron.contact', { borrowernumber: 3, email: 'åsa@example.org', text: 'line\nbreak\ttab' });
      log.info('big.number', { total: 12345678901234567890n });
      log.warn('cycle', { cyclic });
      log.info('given.time', { timestamp: '2026-01-01T00:00:00.000Z' });
      log.error('error.object', { error: new Error('boom') });
    };
    for (const level of ['error', 'warn', 'info', 'debug'] as const) {
      const server = await linesOf(createLogger, level, calls);
      const command = await linesOf(createLineLogger, level, calls);
      expect(command, `at ${level}`).to.deep.equal(server);
    }
    // The comparison above compared real lines: at debug, every call wrote one.
    expect(await linesOf(createLineLogger, 'debug', calls)).to.have.length(9);
  });
});
