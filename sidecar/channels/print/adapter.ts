/**
 * Print letters: each letter is written to the print folder, one file a
 * letter under the day's folder, for staff to print and post or hand over.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';

export class PrintAdapter implements ChannelAdapter {
  readonly channel = 'print' as const;
  readonly maxInFlight = 4;
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private readonly inFlight = new Set<Promise<SendOutcome>>();

  constructor(private readonly opts: { dir: string; now?: () => Date }) {}

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    this.state = 'started';
  }

  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.allSettled([...this.inFlight]);
    this.state = 'stopped';
  }

  send(message: OutgoingMessage): Promise<SendOutcome> {
    if (this.state !== 'started') {
      const code = this.state === 'new' ? 'PRINT_NOT_STARTED' : 'PRINT_STOPPED';
      return Promise.resolve({
        kind: 'retry',
        code,
        reason: this.state === 'new' ? 'the print channel has not been started' : 'the print channel is stopping',
      });
    }
    // The promise handed back is the one stop() waits for, so a caller sees its outcome first.
    const job: Promise<SendOutcome> = this.write(message).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    return job;
  }

  private async write(message: OutgoingMessage): Promise<SendOutcome> {
    if (message.channel !== 'print') {
      return {
        kind: 'failed',
        code: 'PRINT_WRONG_CHANNEL',
        reason: `message ${message.id} is for channel "${message.channel}", not print`,
      };
    }
    // An empty letter would be printed and posted as a blank page: refuse it for staff to look at.
    if (!message.text || !message.text.trim()) {
      return { kind: 'failed', code: 'PRINT_EMPTY_LETTER', reason: `message ${message.id} has no text to print` };
    }
    const day = (this.opts.now?.() ?? new Date()).toISOString().slice(0, 10);
    const folder = path.join(this.opts.dir, day);
    const file = path.join(folder, `letter-${message.id}.txt`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFile(file, message.text, 'utf8');
    } catch (err) {
      // A full disk or a folder that went away: worth trying again once staff fix it.
      return { kind: 'retry', code: 'PRINT_WRITE_FAILED', reason: (err as Error).message };
    }
    return { kind: 'accepted', providerId: path.join(day, path.basename(file)), reply: `letter written to ${file}` };
  }
}
