/**
 * Print letters: each letter handed over is noted in the day's spool of its
 * run and branch, and the letters of that run and branch are written as one
 * PDF in the print folder, named by the library's day:
 * `<day>/letters-<branch>-run-<run>.pdf`. The letter then waits in
 * `to_print` until staff print it and confirm (the worker records that, not
 * this adapter).
 *
 * Noting a letter is what the send answers for (a write that fails is tried
 * again); the PDF is rewritten from the spool once the sends of a moment are
 * done. Each rewrite renders every letter of the group so far, so the next
 * one waits three times as long as the last took: however long a run, the
 * rewrites take at most a quarter of the time and the letters are rendered
 * a few times each, not once per letter noted after them. idle() and stop()
 * write whatever is left, a PDF that could not be written is tried again at
 * the next flush, and start() writes the PDFs a stopped worker left behind
 * its spool.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { libraryDay } from '../../kernel';
import type { ChannelAdapter, OutgoingMessage, SendOutcome } from '../contract';

/** Renders the letters with these message ids into one PDF. */
export type RenderLetters = (ids: number[]) => Promise<Buffer>;

export interface PrintAdapterOptions {
  dir: string;
  render: RenderLetters;
  /** The library's time zone: the day a letter's file is named by. */
  timeZone: string;
  now?: () => Date;
  /** Told when a PDF could not be written (it is tried again at the next flush). */
  onWriteError?: (file: string, err: Error) => void;
}

const SPOOL = '.spool';
/** The wait before a PDF is rewritten, as a multiple of how long the last rewrite took. */
const REWRITE_WAIT_FACTOR = 3;
/** The longest such wait: a letter is in its PDF within this long of being noted, however large the group. */
const LONGEST_REWRITE_WAIT_MS = 30_000;
/** While letters are still being noted, a rewrite waits until none came for this long (the longest wait above at most). */
const QUIET_MS = 250;

/** A file name part from a branch code: letters, digits, `-` and `_` only. */
function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

export class PrintAdapter implements ChannelAdapter {
  readonly channel = 'print' as const;
  /**
   * Many at once: noting a letter is a line appended to a file, and a letter
   * noted twice (a worker that died before recording its outcome) is still in
   * its PDF once, so a wide window costs no repeat on paper.
   */
  readonly maxInFlight = 64;
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private readonly inFlight = new Set<Promise<SendOutcome>>();
  /** PDFs to write again, as paths relative to the folder (without `.pdf`). */
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> | null = null;
  /** The rewrite waiting its turn, and how long the last pass of rewrites took. */
  private rewriteTimer: NodeJS.Timeout | null = null;
  private lastPassMs = 0;
  /** When the latest letter was noted, and since when letters have waited for their PDF (performance.now()). */
  private lastNotedAt = 0;
  private waitingSince: number | null = null;

  constructor(private readonly opts: PrintAdapterOptions) {}

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    this.state = 'started';
    // A worker that stopped between noting letters and writing their PDF: its spool is newer than the PDF.
    for (const group of this.groupsBehindTheirSpool()) this.dirty.add(group);
    if (this.dirty.size) this.rewriteSoon();
  }

  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.allSettled([...this.inFlight]);
    await this.flush();
    if (this.rewriteTimer) clearTimeout(this.rewriteTimer);
    this.rewriteTimer = null;
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
    const job: Promise<SendOutcome> = this.note(message).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    return job;
  }

  /** Where a letter goes: `<day>/letters-<branch>-run-<run>` (no run: `letters-<branch>`). */
  groupOf(message: Pick<OutgoingMessage, 'branchcode' | 'runId'>): string {
    const day = libraryDay(this.opts.now?.() ?? new Date(), this.opts.timeZone);
    const branch = safe(message.branchcode ?? 'none');
    const run = message.runId ? `-run-${message.runId}` : '';
    return path.join(day, `letters-${branch}${run}`);
  }

  /** The message ids noted for a group's PDF, each once, in the order they came. */
  letterIds(group: string): number[] {
    const file = this.spoolFile(group);
    if (!existsSync(file)) return [];
    const ids = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
    return [...new Set(ids)];
  }

  /** How many times a message was noted in the print folder (all days and groups). */
  timesNoted(id: number): number {
    const spool = path.join(this.opts.dir, SPOOL);
    if (!existsSync(spool) || !statSync(spool).isDirectory()) return 0;
    let n = 0;
    for (const day of readdirSync(spool)) {
      for (const f of readdirSync(path.join(spool, day))) {
        n += readFileSync(path.join(spool, day, f), 'utf8')
          .split('\n')
          .filter((l) => l.trim() === String(id)).length;
      }
    }
    return n;
  }

  /** The print folder's PDFs are written for every letter accepted so far. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.flush();
  }

  /** Writes the PDF of every group that got letters since the last flush, until none is left. */
  async flush(): Promise<void> {
    let failed = new Set<string>();
    do failed = await this.pass();
    while ([...this.dirty].some((g) => !failed.has(g)));
  }

  /**
   * One pass over the groups that got letters, after any pass under way: each
   * PDF written once. Returns the groups whose PDF could not be written; they
   * stay to be written, tried again at the next flush.
   */
  private pass(): Promise<Set<string>> {
    const previous = this.flushing ?? Promise.resolve();
    const run = previous.then(async () => {
      const started = performance.now();
      const failed = new Set<string>();
      const groups = [...this.dirty];
      this.dirty.clear();
      for (const group of groups) if (!(await this.writePdf(group))) failed.add(group);
      for (const group of failed) this.dirty.add(group);
      this.lastPassMs = performance.now() - started;
      return failed;
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.flushing = settled;
    void settled.then(() => {
      if (this.flushing === settled) this.flushing = null;
    });
    return run;
  }

  /**
   * Rewrites the PDFs once the last rewrite's waiting time has passed and the letters of the moment are noted
   * (none for QUIET_MS); the letters noted meanwhile go in together, so a run's burst of letters is rendered
   * once at its end, not again and again as it grows.
   */
  private rewriteSoon(): void {
    if (this.rewriteTimer) return;
    this.waitingSince ??= performance.now();
    const wait = Math.min(LONGEST_REWRITE_WAIT_MS, Math.max(QUIET_MS, REWRITE_WAIT_FACTOR * this.lastPassMs));
    this.rewriteTimer = setTimeout(() => {
      this.rewriteWhenQuiet();
    }, wait);
  }

  private rewriteWhenQuiet(): void {
    const now = performance.now();
    const quietFor = now - this.lastNotedAt;
    const waited = now - (this.waitingSince ?? now);
    if (quietFor < QUIET_MS && waited < LONGEST_REWRITE_WAIT_MS) {
      this.rewriteTimer = setTimeout(
        () => {
          this.rewriteWhenQuiet();
        },
        Math.min(QUIET_MS - quietFor, LONGEST_REWRITE_WAIT_MS - waited),
      );
      return;
    }
    this.waitingSince = null;
    void this.pass().then((failed) => {
      this.rewriteTimer = null;
      // Letters noted during the pass wait their turn; a PDF that failed waits for the next letter or flush.
      if ([...this.dirty].some((g) => !failed.has(g))) this.rewriteSoon();
    });
  }

  /**
   * Groups with letters noted and not yet in their PDF: the spool holds more
   * letters than its PDF was last written with. A PDF staff removed after
   * printing is not written again, since its letters were in it.
   */
  private groupsBehindTheirSpool(): string[] {
    const spool = path.join(this.opts.dir, SPOOL);
    if (!existsSync(spool) || !statSync(spool).isDirectory()) return [];
    const out: string[] = [];
    for (const day of readdirSync(spool)) {
      if (!statSync(path.join(spool, day)).isDirectory()) continue;
      for (const f of readdirSync(path.join(spool, day))) {
        if (!f.endsWith('.ids')) continue;
        const group = path.join(day, f.slice(0, -'.ids'.length));
        if (this.letterIds(group).length > this.lettersWritten(group)) out.push(group);
      }
    }
    return out;
  }

  /** How many letters the group's PDF was last written with (kept beside its spool). */
  private lettersWritten(group: string): number {
    const file = `${this.spoolFile(group)}.written`;
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0;
  }

  private spoolFile(group: string): string {
    return path.join(this.opts.dir, SPOOL, `${group}.ids`);
  }

  private async note(message: OutgoingMessage): Promise<SendOutcome> {
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
    const group = this.groupOf(message);
    const spool = this.spoolFile(group);
    const line = `${message.id}\n`;
    try {
      await appendFile(spool, line, 'utf8').catch(async (err: unknown) => {
        // The day's spool folder is made by its first letter (or again, if it was removed).
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(path.dirname(spool), { recursive: true });
        await appendFile(spool, line, 'utf8');
      });
    } catch (err) {
      // A full disk or a folder that went away: worth trying again once staff fix it.
      return { kind: 'retry', code: 'PRINT_WRITE_FAILED', reason: (err as Error).message };
    }
    this.dirty.add(group);
    this.lastNotedAt = performance.now();
    // After the sends of this moment have noted their letters.
    this.rewriteSoon();
    const file = `${group}.pdf`;
    return { kind: 'accepted', providerId: file, reply: `letter added to ${file}` };
  }

  private async writePdf(group: string): Promise<boolean> {
    const file = path.join(this.opts.dir, `${group}.pdf`);
    try {
      const ids = this.letterIds(group);
      // Noted after the last pass began, but read by it: that PDF has them already (or staff printed and removed it).
      if (ids.length <= this.lettersWritten(group)) return true;
      const pdf = await this.opts.render(ids);
      // Written whole and then renamed, so staff never open half a file; the day's folder may have been removed.
      const part = `${file}.part`;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(part, pdf);
      await rename(part, file);
      await writeFile(`${this.spoolFile(group)}.written`, String(ids.length));
      return true;
    } catch (err) {
      this.opts.onWriteError?.(file, err as Error);
      return false;
    }
  }

  /** For tests and the demo: the PDF of a group as it is now. */
  async readPdf(group: string): Promise<Buffer> {
    return readFile(path.join(this.opts.dir, `${group}.pdf`));
  }
}
