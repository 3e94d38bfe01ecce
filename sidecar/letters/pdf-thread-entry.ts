/** The letters' PDF thread (pdf-thread.ts): renders each job it is handed and answers with the PDF or the error. */
import { parentPort } from 'node:worker_threads';
import { renderLettersPdf, type Letter, type LettersPdfOptions } from './render';
import type { ThreadAnswer } from './pdf-thread';

const port = parentPort;
if (port) {
  port.on('message', (job: { id: number; letters: Letter[]; opts: LettersPdfOptions }) => {
    renderLettersPdf(job.letters, job.opts).then(
      (pdf) => {
        const answer: ThreadAnswer = { id: job.id, pdf };
        port.postMessage(answer);
      },
      (err: unknown) => {
        const answer: ThreadAnswer = { id: job.id, error: err instanceof Error ? err.message : String(err) };
        port.postMessage(answer);
      },
    );
  });
}
