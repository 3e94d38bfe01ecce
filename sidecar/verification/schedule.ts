/**
 * Runs the verification scan every few minutes inside `kmc serve`, on its
 * own timer (the general scheduler is not needed for a fixed interval).
 * Scans never overlap; a failed scan is logged and the next one comes as usual.
 */
import type { Logger } from '../logging';
import { codeOfError } from '../errors';
import type { VerificationService } from './service';

export const DEFAULT_SCAN_EVERY_MS = 5 * 60_000;

export interface VerificationSchedule {
  /** Runs a scan now (after the one in flight, if any). */
  runNow(): Promise<void>;
  /** Stops the timer and waits for a scan in flight. */
  stop(): Promise<void>;
}

export async function startVerificationSchedule(
  services: { verification: VerificationService; logger: Logger },
  opts: { everyMs?: number } = {},
): Promise<VerificationSchedule> {
  // A bad setting stops the start, with the setting's name, rather than every scan failing quietly.
  await services.verification.settings();
  const everyMs = opts.everyMs ?? DEFAULT_SCAN_EVERY_MS;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;

  const once = async () => {
    try {
      await services.verification.scan({ actor: 'scheduler' });
    } catch (err) {
      services.logger.error('verification.scan_failed', {
        code: codeOfError(err),
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  const runNow = () => {
    inFlight = inFlight.then(once);
    return inFlight;
  };
  const tick = () => {
    if (stopped) return;
    void runNow().then(() => {
      if (!stopped) timer = setTimeout(tick, everyMs);
    });
  };
  if (everyMs > 0) tick();
  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
