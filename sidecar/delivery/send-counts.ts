/**
 * The sending limits' shared counts (kmc_send_counts): per limit and per
 * span of time (its minute, hour, day or second), how many places all
 * delivery workers have taken. A worker takes places a few at a time before
 * it sends and gives back those it did not use, so two workers, or a worker
 * started again within the span, never go over the limit together. This
 * store owns the table's SQL.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';

const LOCK_ERRORS = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
/** Counts of spans older than this are deleted: no limit spans more than a day. */
const KEEP_MS = 2 * 24 * 3600_000;

function lockError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && LOCK_ERRORS.has(String(err.code));
}

export class SendCountStore {
  constructor(private readonly knex: Knex) {}

  /**
   * Takes up to `want` places under `key` in the span starting at `windowStart`, never past `limit` in all;
   * returns how many it took (0 when the span is full). Atomic: the span's row is locked while it is read and
   * counted up, and the count only moves when it stays within the limit.
   */
  async take(key: string, windowStart: Date, want: number, limit: number): Promise<number> {
    const at = toDbTime(windowStart);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.knex.transaction(async (trx) => {
          // Makes the span's row if it is the first place taken in it, and locks it either way.
          await trx.raw('INSERT INTO kmc_send_counts (pace_key, window_start, sent) VALUES (?, ?, 0) ON DUPLICATE KEY UPDATE sent = sent', [
            key,
            at,
          ]);
          const row = await trx('kmc_send_counts')
            .where({ pace_key: key, window_start: at })
            .forUpdate()
            .first<{ sent: number | string }>('sent');
          const granted = Math.max(0, Math.min(want, limit - Number(row.sent)));
          if (!granted) return 0;
          const moved = await trx('kmc_send_counts')
            .where({ pace_key: key, window_start: at })
            .where('sent', '<=', limit - granted)
            .increment('sent', granted);
          return moved ? granted : 0;
        });
      } catch (err) {
        // Two workers making the same span's row at once: InnoDB may pick one as a deadlock victim.
        if (attempt >= 5 || !lockError(err)) throw err;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
      }
    }
  }

  /** Gives back places taken and not used, so another worker may use them within the span. */
  async giveBack(key: string, windowStart: Date, count: number): Promise<void> {
    if (count <= 0) return;
    await this.knex('kmc_send_counts')
      .where({ pace_key: key, window_start: toDbTime(windowStart) })
      .update({ sent: this.knex.raw('GREATEST(sent - ?, 0)', [count]) });
  }

  /** Deletes the counts of spans long past. */
  async forgetBefore(now: Date): Promise<number> {
    return this.knex('kmc_send_counts')
      .where('window_start', '<', toDbTime(new Date(now.getTime() - KEEP_MS)))
      .delete();
  }

  /** The count of one span (for tests and the doctor). */
  async count(key: string, windowStart: Date): Promise<number> {
    const row = await this.knex('kmc_send_counts')
      .where({ pace_key: key, window_start: toDbTime(windowStart) })
      .first<{ sent: number | string } | undefined>('sent');
    return row ? Number(row.sent) : 0;
  }
}
