/**
 * Work done on a thread of its own: tasks handed to it in turn, each answered
 * with its result or its error. The thread starts with the first task, holds
 * the process open only while it has work, and a thread that died fails what
 * it had; the next task starts a new one. Used where CPU-heavy work would
 * otherwise stall sending, outcomes and the staff pages (letters' PDFs,
 * composing and signing e-mail).
 */
import { parentPort, Worker } from 'node:worker_threads';

/** An error as it crosses from the thread: its message and the fields callers read (a server's reply code, say). */
export interface ThreadError {
  message: string;
  fields: Record<string, string | number | undefined>;
}

type Answer<R> = { id: number; result: R } | { id: number; error: ThreadError };

interface Task<R> {
  resolve: (result: R) => void;
  reject: (err: Error) => void;
  /** What run() handed out for it: close() waits for it. */
  done: Promise<R>;
}

/** The fields of an error that go back with its message. */
const ERROR_FIELDS = ['code', 'responseCode', 'response', 'command'] as const;

export class TaskThread<P, R> {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly tasks = new Map<number, Task<R>>();

  /**
   * @param entry the thread's module, without its extension (`.js` when built, `.ts` from the sources)
   * @param name how a thread that stopped is named in the error its tasks get
   */
  constructor(
    private readonly entry: string,
    private readonly name: string,
  ) {}

  run(payload: P): Promise<R> {
    const worker = this.started();
    const id = this.nextId++;
    let settlers!: Pick<Task<R>, 'resolve' | 'reject'>;
    const done = new Promise<R>((resolve, reject) => (settlers = { resolve, reject }));
    this.tasks.set(id, { ...settlers, done });
    worker.ref();
    worker.postMessage({ id, payload });
    return done;
  }

  /** Ends the thread once its tasks are done. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.tasks.values()].map((task) => task.done));
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private settle(id: number, outcome: (task: Task<R>) => void): void {
    const task = this.tasks.get(id);
    if (!task) return;
    this.tasks.delete(id);
    outcome(task);
    if (!this.tasks.size) this.worker?.unref();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const compiled = __filename.endsWith('.js');
    // Run from the sources (tests, `npm run kmc`), the thread compiles TypeScript as the main thread does.
    const worker = new Worker(
      `${this.entry}.${compiled ? 'js' : 'ts'}`,
      compiled ? {} : { execArgv: ['--require', require.resolve('tsx/cjs')] },
    );
    worker.unref();
    worker.on('message', (m: Answer<R>) => {
      this.settle(m.id, (task) => {
        if ('result' in m) task.resolve(m.result);
        else task.reject(Object.assign(new Error(m.error.message), m.error.fields));
      });
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const id of [...this.tasks.keys()])
        this.settle(id, (task) => {
          task.reject(err);
        });
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.tasks.size) fail(new Error(`${this.name} stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }
}

/** The thread's side: answers each task with what `handle` gives, or with its error. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the task's shape, as TaskThread's
export function serveTasks<P, R>(handle: (payload: P) => Promise<R>): void {
  const port = parentPort;
  if (!port) return;
  port.on('message', (task: { id: number; payload: P }) => {
    handle(task.payload).then(
      (result) => {
        port.postMessage({ id: task.id, result } satisfies Answer<R>);
      },
      (err: unknown) => {
        const e = (err instanceof Error ? err : new Error(String(err))) as Error & Record<string, unknown>;
        const fields: ThreadError['fields'] = {};
        for (const f of ERROR_FIELDS) if (typeof e[f] === 'string' || typeof e[f] === 'number') fields[f] = e[f];
        port.postMessage({ id: task.id, error: { message: e.message, fields } } satisfies Answer<R>);
      },
    );
  });
}
