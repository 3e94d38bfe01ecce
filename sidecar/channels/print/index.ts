/**
 * Print letters: each letter is written to the print folder, one file a
 * letter under the day's folder, for staff to print and post or hand over.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';

export class PrintAdapter implements ChannelAdapter {
  readonly channel = 'print' as const;

  constructor(private readonly opts: { dir: string; now?: () => Date }) {}

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
  }

  async stop(): Promise<void> {}

  async send(message: OutgoingMessage): Promise<SendOutcome> {
    const day = (this.opts.now?.() ?? new Date()).toISOString().slice(0, 10);
    const folder = path.join(this.opts.dir, day);
    const file = path.join(folder, `letter-${message.id}.txt`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFile(file, message.text, 'utf8');
    } catch (err) {
      return { kind: 'retry', code: 'PRINT_WRITE_FAILED', reason: (err as Error).message };
    }
    return { kind: 'accepted', providerId: path.join(day, path.basename(file)), reply: `letter written to ${file}` };
  }
}
