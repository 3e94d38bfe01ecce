/** The letters' PDF thread (pdf-thread.ts): renders each task it is handed and answers with the PDF or the error. */
import { serveTasks } from '../kernel';
import { renderLettersPdf } from './render';
import type { PdfTask } from './pdf-thread';

serveTasks<PdfTask, Uint8Array>(({ letters, opts }) => renderLettersPdf(letters, opts));
