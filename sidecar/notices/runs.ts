/**
 * The run log: every generation run is recorded with what it made. A
 * scheduled fire (job, fire time) can be recorded once only, so two sidecars
 * sharing a database never both run it.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isDuplicateKey, toDbTime } from '../db';

export interface RunStats {
  created: number;
  skipped: number;
  duplicates: number;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  skippedBy: Record<string, number>;
}

export function emptyStats(): RunStats {
  return { created: 0, skipped: 0, duplicates: 0, byChannel: {}, byStatus: {}, skippedBy: {} };
}

export function countInto(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}

export class RunLog {
  constructor(private readonly knex: Knex) {}

  /**
   * Opens a run. Returns null when this (job, fire time) was already taken by
   * another instance, so the caller does nothing.
   */
  async open(args: {
    job?: string;
    fireTime?: Date;
    runDate: string;
    messageType: string;
    branchcode: string | null;
    dryRun: boolean;
    startedBy: string;
    at: Date;
  }): Promise<number | null> {
    const job = args.job ?? `manual:${args.messageType}:${randomUUID().slice(0, 8)}`;
    try {
      const [id] = await this.knex('kmc_runs').insert({
        job,
        fire_time: toDbTime(args.fireTime ?? args.at).slice(0, 19),
        run_date: args.runDate,
        message_type: args.messageType,
        branchcode: args.branchcode,
        dry_run: args.dryRun ? 1 : 0,
        status: 'running',
        started_at: toDbTime(args.at),
        started_by: args.startedBy,
      });
      return Number(id);
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  async finish(id: number, stats: RunStats, at: Date): Promise<void> {
    await this.knex('kmc_runs')
      .where({ id })
      .update({ status: 'finished', finished_at: toDbTime(at), stats: JSON.stringify(stats) });
  }

  async fail(id: number, error: string, at: Date): Promise<void> {
    await this.knex('kmc_runs')
      .where({ id })
      .update({ status: 'failed', finished_at: toDbTime(at), error: error.slice(0, 2000) });
  }
}
