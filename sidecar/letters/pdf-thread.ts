/**
 * Letters rendered on a thread of their own. The PDF of a large run's
 * letters takes seconds of CPU; on the main thread that would stall every
 * send, every recorded outcome and the staff pages for as long. One thread,
 * started on the first PDF, renders them in turn; it holds the process open
 * only while it has work.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_FONT_DIR, findLetterFonts } from './fonts';
import type { Letter, LettersPdfOptions } from './render';

interface Job {
  resolve: (pdf: Buffer) => void;
  reject: (err: Error) => void;
  /** What render() handed out for it: close() waits for it. */
  pdf: Promise<Buffer>;
}

/** What the thread answers for one job. */
export type ThreadAnswer = { id: number; pdf: Uint8Array } | { id: number; error: string };

export class LetterPdfThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();

  render(letters: Letter[], opts: LettersPdfOptions): Promise<Buffer> {
    // A missing font is a settings error, told here with its setting, not as a thread's message.
    findLetterFonts(opts.fontDir ?? DEFAULT_FONT_DIR);
    const worker = this.started();
    const id = this.nextId++;
    let settlers!: Pick<Job, 'resolve' | 'reject'>;
    const pdf = new Promise<Buffer>((resolve, reject) => (settlers = { resolve, reject }));
    this.jobs.set(id, { ...settlers, pdf });
    worker.ref();
    worker.postMessage({ id, letters, opts });
    return pdf;
  }

  /** Ends the thread once its jobs are done. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.jobs.values()].map((job) => job.pdf));
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private settle(id: number, outcome: (job: Job) => void): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.jobs.delete(id);
    outcome(job);
    if (!this.jobs.size) this.worker?.unref();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const compiled = __filename.endsWith('.js');
    const entry = path.join(__dirname, `pdf-thread-entry.${compiled ? 'js' : 'ts'}`);
    // Run from the sources (tests, `npm run kmc`), the thread compiles TypeScript as the main thread does.
    const worker = new Worker(entry, compiled ? {} : { execArgv: ['--require', require.resolve('tsx/cjs')] });
    worker.unref();
    worker.on('message', (m: ThreadAnswer) => {
      this.settle(m.id, (job) => {
        if ('pdf' in m) job.resolve(Buffer.from(m.pdf));
        else job.reject(new Error(m.error));
      });
    });
    // A thread that died fails what it had; the next PDF starts a new one.
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const id of [...this.jobs.keys()])
        this.settle(id, (job) => {
          job.reject(err);
        });
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.jobs.size) fail(new Error(`the letters' PDF thread stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }
}
