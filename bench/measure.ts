/**
 * What every section measures with: whole processes timed from spawn to exit
 * (start-up included) with their peak RSS from /usr/bin/time, the servers in
 * processes of their own, A and B in turn, medians with min–max.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');

export interface ProcessRun {
  ms: number;
  rssMb: number;
  stdout: string;
}

/** Runs `node ARGS` as a whole process under /usr/bin/time: wall time from spawn to exit, and its peak RSS. */
export async function timeNode(args: string[], env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-bench-time-'));
  const rssFile = path.join(dir, 'rss');
  try {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (code !== 0) throw new Error(`node ${args.join(' ')} ended with code ${code}: ${stderr.slice(-2000)}`);
    const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    return { ms, rssMb: Math.round(kb / 1024), stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A server script (bench/servers/*.mjs) in its own process; it tells its port once it listens. */
export interface ServerProcess {
  port: number;
  count(): Promise<number>;
  stop(): void;
}

export async function startServer(script: string, args: string[] = []): Promise<ServerProcess> {
  const child: ChildProcess = fork(path.join(ROOT, 'bench', 'servers', script), args, {
    // Plain node, not the TypeScript loader the bench itself runs under.
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`${script} ended with code ${code} before it listened`));
    });
    child.once('message', (m: { port?: number }) => {
      if (m.port) resolve(m.port);
    });
  });
  return {
    port,
    count: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m: { count: number }) => {
          resolve(m.count);
        });
        child.send({ ask: 'count' });
      }),
    stop: () => {
      child.disconnect();
    },
  };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

/** Runs the steps in turn, `pairs` rounds, rotating which goes first, so none always meets a warmer machine. */
export async function inTurn<K extends string>(
  pairs: number,
  steps: Record<K, () => Promise<ProcessRun>>,
): Promise<Record<K, ProcessRun[]>> {
  const names = Object.keys(steps) as K[];
  const runs = Object.fromEntries(names.map((n) => [n, [] as ProcessRun[]])) as Record<K, ProcessRun[]>;
  for (let round = 0; round < pairs; round += 1) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) runs[name].push(await steps[name]());
  }
  return runs;
}

/** One line of the printed table. */
export interface BenchRow {
  what: string;
  kmc: string;
  baseline: string;
  ratio: string;
  rss: string;
  aim: string;
  met: boolean | null;
}

export interface SectionResult {
  rows: BenchRow[];
  /** Each figure of the issue this section missed, in words. */
  misses: string[];
  /** Lines printed after the common table: a section's own table. */
  tables?: string[];
  figures: Record<string, unknown>;
}

const s1 = (ms: number) => (ms / 1000).toFixed(2);
export const seconds = (x: Spread) => `${s1(x.median)} s (${s1(x.min)}–${s1(x.max)})`;
export const perSecond = (x: Spread) => `${Math.round(x.median)}/s (${Math.round(x.min)}–${Math.round(x.max)})`;
export const times = (x: Spread) => `${x.median.toFixed(2)}× (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;
export const percent = (x: Spread) => `${Math.round(x.median * 100)}% (${Math.round(x.min * 100)}–${Math.round(x.max * 100)})`;
export const peak = (runs: ProcessRun[]) => Math.max(...runs.map((r) => r.rssMb));

/** Per-pair ratios: the i-th run of one side against the i-th of the other. */
export function ratios(a: ProcessRun[], b: ProcessRun[], f: (a: ProcessRun, b: ProcessRun) => number): Spread {
  return spread(a.map((x, i) => f(x, b[i])));
}

export function printTable(rows: BenchRow[], out: (line: string) => void): void {
  const head: BenchRow = {
    what: 'what',
    kmc: 'kmc (median, min–max)',
    baseline: 'baseline',
    ratio: 'ratio',
    rss: 'peak RSS',
    aim: 'aim',
    met: null,
  };
  const cells = (r: BenchRow) => [r.what, r.kmc, r.baseline, r.ratio, r.rss, r.aim, r.met === null ? '' : r.met ? 'met' : 'MISSED'];
  const all = [head, ...rows].map(cells);
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  out(line(all[0]));
  out(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of all.slice(1)) out(line(r));
}
