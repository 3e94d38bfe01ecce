import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../sidecar/logging';

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

describe('logging', () => {
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
