/**
 * SMS quiet hours per branch (kmc_branch_settings.quiet_from / quiet_to, in
 * the library's time zone). An SMS made during a branch's quiet hours is
 * held; the quiet-hours release (transitions/release.ts) puts it in the
 * queue once they are over. The scheduler runs the release every minute and
 * the delivery worker before each batch, so a held SMS leaves within a
 * minute of the window opening.
 */
import { dateFormat } from '../kernel';

/** Every held-for-quiet-hours reason starts with this, so the release finds exactly those. */
export const QUIET_HOURS_REASON = 'SMS quiet hours';

export interface QuietWindow {
  /** HH:MM, library time; quiet from this minute ... */
  from: string;
  /** ... up to (not including) this one; may be on the next day (21:00 to 08:00). */
  to: string;
}

/** The library's wall-clock time (HH:MM, 24 h) at an instant. */
export function localClock(at: Date, timeZone: string): string {
  const parts = dateFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const hour = parts.find((p) => p.type === 'hour')?.value ?? '00';
  const minute = parts.find((p) => p.type === 'minute')?.value ?? '00';
  return `${hour}:${minute}`;
}

export function isQuietAt(window: QuietWindow, hhmm: string): boolean {
  if (window.from === window.to) return false;
  return window.from < window.to ? hhmm >= window.from && hhmm < window.to : hhmm >= window.from || hhmm < window.to;
}

function hhmm(value: string | null | undefined): string | null {
  if (!value) return null;
  const m = /^(\d{1,2}):(\d{2})/.exec(value);
  return m ? `${m[1].padStart(2, '0')}:${m[2]}` : null;
}

/** Where the branches' quiet hours are kept (the branch settings store); times as stored, 'HH:MM:SS'. */
export interface QuietHoursSource {
  quietHours(): Promise<Array<{ branchcode: string; quiet_from: string; quiet_to: string }>>;
}

export class QuietHours {
  constructor(
    private readonly windows: Map<string, QuietWindow>,
    private readonly timeZone: string,
  ) {}

  static async load(source: QuietHoursSource, timeZone: string): Promise<QuietHours> {
    const rows = await source.quietHours();
    const windows = new Map<string, QuietWindow>();
    for (const r of rows) {
      const from = hhmm(r.quiet_from);
      const to = hhmm(r.quiet_to);
      if (from && to) windows.set(r.branchcode, { from, to });
    }
    return new QuietHours(windows, timeZone);
  }

  window(branchcode: string | null): QuietWindow | null {
    return (branchcode && this.windows.get(branchcode)) || null;
  }

  isQuiet(branchcode: string | null, at: Date): boolean {
    const w = this.window(branchcode);
    return !!w && isQuietAt(w, localClock(at, this.timeZone));
  }

  /** The branches whose quiet hours last at this instant. */
  quietBranches(at: Date): string[] {
    const clock = localClock(at, this.timeZone);
    return [...this.windows].filter(([, w]) => isQuietAt(w, clock)).map(([code]) => code);
  }

  /** The reason to hold an SMS from this branch now, or null when its quiet hours do not last now. */
  quietNow(branchcode: string | null, at: Date): string | null {
    return this.isQuiet(branchcode, at) ? this.reason(branchcode) : null;
  }

  /** The reason stored on a held SMS, in words staff understand. */
  reason(branchcode: string | null): string {
    const w = this.window(branchcode);
    return `${QUIET_HOURS_REASON} at ${branchcode} (${w?.from ?? ''} to ${w?.to ?? ''}): it goes out when they end`;
  }
}
