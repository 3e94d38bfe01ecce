/**
 * The `kmc` command line as a child process, the way an admin runs it. Which
 * code it runs:
 * - built: bin/kmc over the compiled dist/ (what production runs);
 * - source: sidecar/cli.ts through tsx (while changing the code).
 * KMC_TEST_CLI=built or =source chooses; without it the build is used when
 * dist/ is current (npm test builds it first) and the source otherwise, so a
 * stale build is never what a test checks.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';

export type CliKind = 'built' | 'source';

const ROOT = path.resolve(__dirname, '..', '..');
let chosen: { kind: CliKind; args: string[] } | null = null;

function buildIsCurrent(): boolean {
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--check'], { encoding: 'utf8' }).status === 0;
}

function choose(): { kind: CliKind; args: string[] } {
  const wanted = process.env.KMC_TEST_CLI?.trim() ?? '';
  if (wanted !== '' && wanted !== 'built' && wanted !== 'source') throw new Error(`KMC_TEST_CLI must be built or source, got "${wanted}"`);
  if (wanted === 'built' && !buildIsCurrent()) {
    throw new Error('KMC_TEST_CLI=built, but dist/ is missing or older than the source: run `npm run build` first');
  }
  const kind: CliKind = wanted === 'source' ? 'source' : wanted === 'built' || buildIsCurrent() ? 'built' : 'source';
  return kind === 'built'
    ? { kind, args: [path.join(ROOT, 'bin', 'kmc')] }
    : { kind, args: ['--require', require.resolve('tsx/cjs'), path.join(ROOT, 'sidecar', 'cli.ts')] };
}

/** Which code the spawned command line runs, for test titles. */
export function cliKind(): CliKind {
  chosen ??= choose();
  return chosen.kind;
}

/** Starts `kmc ARGS` as a child process. */
export function spawnKmc(args: string[], options: SpawnOptions = {}): ChildProcess {
  chosen ??= choose();
  return spawn(process.execPath, [...chosen.args, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

export interface KmcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without any KMC_ setting, plus the given settings. */
export function kmcEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('KMC_')) env[name] = value;
  return { ...env, ...settings };
}

/** Runs `kmc ARGS` to its end; its settings are exactly the given ones (none leak in from the machine). */
export function runKmc(args: string[], settings: Record<string, string>): Promise<KmcResult> {
  const child = spawnKmc(args, { env: kmcEnvironment(settings) });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => stdout.push(d));
  child.stderr?.on('data', (d: Buffer) => stderr.push(d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8').trimEnd(), stderr: Buffer.concat(stderr).toString('utf8').trimEnd() });
    });
  });
}
