/**
 * Letters rendered on a thread of their own. The PDF of a large run's
 * letters takes seconds of CPU; on the main thread that would stall every
 * send, every recorded outcome and the staff pages for as long. One thread,
 * started on the first PDF, renders them in turn; it holds the process open
 * only while it has work.
 */
import path from 'node:path';
import { TaskThread } from '../kernel';
import { DEFAULT_FONT_DIR, findLetterFonts } from './fonts';
import type { Letter, LettersPdfOptions } from './render';

/** What the thread is handed for one PDF. */
export interface PdfTask {
  letters: Letter[];
  opts: LettersPdfOptions;
}

export class LetterPdfThread {
  private readonly thread = new TaskThread<PdfTask, Uint8Array>(path.join(__dirname, 'pdf-thread-entry'), "the letters' PDF thread");

  async render(letters: Letter[], opts: LettersPdfOptions): Promise<Buffer> {
    // A missing font is a settings error, told here with its setting, not as a thread's message.
    findLetterFonts(opts.fontDir ?? DEFAULT_FONT_DIR);
    return Buffer.from(await this.thread.run({ letters, opts }));
  }

  /** Ends the thread once its tasks are done. */
  close(): Promise<void> {
    return this.thread.close();
  }
}
