/**
 * SMS quiet hours per branch (kmc_branch_settings.quiet_from / quiet_to, in
 * the library's time zone). An SMS made during a branch's quiet hours is
 * held; the release below puts it in the queue once they are over. The
 * scheduler runs the release every minute and the delivery worker before
 * each batch, so a held SMS leaves within a minute of the window opening.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { Logger } from '../logging';

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
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
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
  const m = /^(\d{1,2}):(\d{2})/.exec(String(value));
  return m ? `${m[1].padStart(2, '0')}:${m[2]}` : null;
}

export class QuietHours {
  constructor(
    private readonly windows: Map<string, QuietWindow>,
    private readonly timeZone: string,
  ) {}

  static async load(knex: Knex, timeZone: string): Promise<QuietHours> {
    const rows: Array<{ branchcode: string; quiet_from: string | null; quiet_to: string | null }> = await knex('kmc_branch_settings')
      .whereNotNull('quiet_from')
      .whereNotNull('quiet_to')
      .select('branchcode', 'quiet_from', 'quiet_to');
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

  /** The reason stored on a held SMS, in words staff understand. */
  reason(branchcode: string | null): string {
    const w = this.window(branchcode);
    return `${QUIET_HOURS_REASON} at ${branchcode} (${w?.from ?? ''} to ${w?.to ?? ''}): it goes out when they end`;
  }
}

export interface ReleaseDeps {
  knex: Knex;
  clock: { now(): Date };
  timezone: string;
  logger: Logger;
}

/**
 * Moves SMS held for quiet hours to `pending` for every branch whose quiet
 * hours are over now. Safe with several sidecars: rows are claimed with
 * SKIP LOCKED and the update is guarded by the status.
 */
export async function releaseQuietHours(deps: ReleaseDeps, actor = 'quiet-hours'): Promise<number> {
  const now = deps.clock.now();
  const quiet = await QuietHours.load(deps.knex, deps.timezone);
  const at = toDbTime(now);
  let released = 0;
  for (;;) {
    const moved = await deps.knex.transaction(async (trx) => {
      const rows: Array<{ id: number; branchcode: string | null }> = await trx('kmc_messages')
        .where({ status: 'held', channel: 'sms' })
        .where('status_reason', 'like', `${QUIET_HOURS_REASON}%`)
        .orderBy('id')
        .limit(1000)
        .forUpdate()
        .skipLocked()
        .select('id', 'branchcode');
      const ids = rows.filter((r) => !quiet.isQuiet(r.branchcode, now)).map((r) => Number(r.id));
      if (ids.length) {
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where({ status: 'held' })
          .update({ status: 'pending', status_reason: null, next_attempt_at: at, updated_at: at });
        await trx('kmc_message_events').insert(
          ids.map((id) => ({ message_id: id, at, status: 'pending', detail: 'SMS quiet hours are over', actor })),
        );
      }
      return { seen: rows.length, ids: ids.length };
    });
    released += moved.ids;
    // A full page that is all still quiet would repeat forever; stop once nothing moved.
    if (moved.seen < 1000 || moved.ids === 0) break;
  }
  if (released) deps.logger.info('quiet_hours.released', { released });
  return released;
}
