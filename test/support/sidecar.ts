/**
 * Builds the sidecar for a test the way the composition root does, against
 * a scratch database, a real SMTP capture server and a clock the test moves.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { loadSettings, type Settings } from '../../sidecar/config';
import { createApp, type AppOptions, type App } from '../../sidecar/main';
import { createMemoryLogger } from '../../sidecar/logging';
import type { Clock } from '../../sidecar/notices';

export class TestClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export function testSettings(databaseUrl: string, overrides: Record<string, string> = {}): Settings {
  return loadSettings({
    KMC_DATABASE_URL: databaseUrl,
    KMC_SMTP_URL: 'smtp://127.0.0.1:1?tls=off',
    KMC_PRINT_DIR: mkdtempSync(path.join(os.tmpdir(), 'kmc-print-')),
    KMC_LOG_LEVEL: 'error',
    KMC_TIMEZONE: 'Europe/Stockholm',
    // Each test's library starts empty and walks its loans level by level and its holds from the shelf; what a
    // first run does on a live library (Koha's level at the loan's age, holds Koha already told) is tested on its own.
    KMC_FIRST_RUN_OVERDUE: 'all-levels',
    KMC_FIRST_RUN_HOLDS: 'notify',
    ...overrides,
  });
}

/** Jobs a test runs by hand (fires of routines, the nightly anonymiser), so start() leaves them off. */
export const BY_HAND: AppOptions['jobs'] = { routines: false, anonymiser: false };

export function testServices(
  settings: Settings,
  clock: Clock,
  opts: AppOptions = {},
): App & { logs: ReturnType<typeof createMemoryLogger> } {
  const logs = createMemoryLogger();
  const services = createApp(settings, { logger: logs, clock, ...opts });
  return Object.assign(services, { logs });
}
