/**
 * The audit record: who did what on the staff pages (signed in, ran a
 * routine, approved a run, retried a message ...). One row per action; the
 * detail is JSON with ids, never patron contact data.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';
import type { Clock } from '../kernel';
import type { Logger } from '../logging';

export interface AuditEntry {
  borrowernumber: number | null;
  action: string;
  objectType?: string | null;
  objectId?: string | number | null;
  detail?: Record<string, unknown> | null;
  ip?: string | null;
}

export interface AuditRow {
  id: number;
  at: string;
  borrowernumber: number | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  detail: string | null;
  ip: string | null;
}

export class AuditLog {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async record(e: AuditEntry, trx?: Knex.Transaction): Promise<void> {
    await (trx ?? this.knex)<AuditRow>('kmc_audit').insert({
      at: toDbTime(this.clock.now()),
      borrowernumber: e.borrowernumber,
      action: e.action.slice(0, 64),
      object_type: e.objectType ?? null,
      object_id: e.objectId === undefined || e.objectId === null ? null : String(e.objectId).slice(0, 64),
      detail: e.detail ? JSON.stringify(e.detail) : null,
      ip: e.ip?.slice(0, 45) ?? null,
    });
    this.logger.info('audit', {
      action: e.action,
      staff: e.borrowernumber,
      objectType: e.objectType ?? null,
      objectId: e.objectId ?? null,
    });
  }

  async recent(opts: { limit: number; borrowernumber?: number | null; action?: string | null }): Promise<AuditRow[]> {
    const q = this.knex<AuditRow>('kmc_audit').orderBy('id', 'desc').limit(opts.limit);
    if (opts.borrowernumber) q.where({ borrowernumber: opts.borrowernumber });
    if (opts.action) q.where({ action: opts.action });
    return q.select();
  }
}
