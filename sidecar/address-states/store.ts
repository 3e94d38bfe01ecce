/**
 * The state of patrons' e-mail addresses as bounces left them (kmc_bounces,
 * kmc_address_states). A state belongs to the address as it was when it
 * bounced: once the address in Koha changes, the new one has no state and is
 * used again. This store owns the SQL of both tables.
 */
import type { Knex } from 'knex';
import { fromDbTime, toDbTime } from '../db';

/** An address state that keeps notices away; a usable address has no state (or `usable` after staff cleared it). */
export type AddressState = 'usable' | 'undeliverable' | 'complained';
export type BounceEffectKind = 'hard' | 'soft' | 'complaint';

/** When soft bounces make an address undeliverable: `count` of them within `windowDays`. */
export interface SoftBouncePolicy {
  count: number;
  windowDays: number;
}

export const DEFAULT_SOFT_BOUNCE_POLICY: SoftBouncePolicy = { count: 3, windowDays: 30 };

export interface BounceRecord {
  messageId: number;
  borrowernumber: number;
  address: string;
  kind: BounceEffectKind;
  status: string | null;
  reason: string | null;
  diagnostic: string | null;
  at: Date;
}

export interface AddressStateRow {
  borrowernumber: number;
  address: string;
  state: AddressState;
  reason: string | null;
  changedAt: Date;
  clearedBy: number | null;
}

interface StateRow {
  borrowernumber: number;
  address: string;
  state: AddressState;
  reason: string | null;
  changed_at: string;
  counted_from: string | null;
  cleared_by: number | null;
}

/** What a bounce did to the address: the state before and after. */
export interface AddressChange {
  before: AddressState;
  after: AddressState;
  /** Soft bounces counted in the window, this one included (0 for other kinds). */
  softCount: number;
}

const DAY_MS = 24 * 3600_000;

function norm(address: string): string {
  return address.trim().toLowerCase();
}

function toRow(r: StateRow): AddressStateRow {
  return {
    borrowernumber: r.borrowernumber,
    address: r.address,
    state: r.state,
    reason: r.reason,
    changedAt: fromDbTime(r.changed_at) ?? new Date(0),
    clearedBy: r.cleared_by,
  };
}

function reasonOf(b: BounceRecord, words: string): string {
  const code = [b.status, b.reason ? `(${b.reason})` : null].filter(Boolean).join(' ');
  return `${words}${code ? `: ${code}` : ''}, message ${String(b.messageId)}`.slice(0, 255);
}

export class AddressStateStore {
  constructor(
    private readonly knex: Knex,
    private readonly policy: SoftBouncePolicy = DEFAULT_SOFT_BOUNCE_POLICY,
  ) {}

  /**
   * Keeps one bounce and moves the address's state: a hard bounce makes it undeliverable at once, the policy's count of
   * soft bounces within its window does too, a complaint marks it (an undeliverable address stays undeliverable).
   */
  async recordBounce(b: BounceRecord): Promise<AddressChange> {
    const address = norm(b.address);
    return this.knex.transaction(async (trx) => {
      await trx('kmc_bounces').insert({
        message_id: b.messageId,
        borrowernumber: b.borrowernumber,
        address,
        kind: b.kind,
        status_code: b.status?.slice(0, 16) ?? null,
        reason: b.reason?.slice(0, 32) ?? null,
        diagnostic: b.diagnostic?.slice(0, 500) ?? null,
        received_at: toDbTime(b.at),
      });
      const current = await trx<StateRow>('kmc_address_states').where({ borrowernumber: b.borrowernumber, address }).forUpdate().first();
      const before: AddressState = current?.state ?? 'usable';
      let after: AddressState = before;
      let reason: string | null = null;
      let softCount = 0;
      if (b.kind === 'hard') {
        after = 'undeliverable';
        reason = reasonOf(b, 'hard bounce');
      } else if (b.kind === 'complaint') {
        if (before !== 'undeliverable') {
          after = 'complained';
          reason = reasonOf(b, 'the patron complained (marked a notice as spam)');
        }
      } else {
        const windowStart = new Date(b.at.getTime() - this.policy.windowDays * DAY_MS);
        const countedFrom = current?.counted_from ? fromDbTime(current.counted_from) : null;
        const since = countedFrom && countedFrom > windowStart ? countedFrom : windowStart;
        const row = await trx('kmc_bounces')
          .where({ borrowernumber: b.borrowernumber, address, kind: 'soft' })
          .where('received_at', '>=', toDbTime(since))
          .count<Array<{ n: number | string }>>({ n: '*' })
          .first();
        softCount = Number(row?.n ?? 0);
        if (softCount >= this.policy.count && before !== 'undeliverable') {
          after = 'undeliverable';
          reason = reasonOf(b, `${String(softCount)} soft bounces within ${String(this.policy.windowDays)} days`);
        }
      }
      if (after !== before && reason) {
        const values = { state: after, reason, changed_at: toDbTime(b.at) };
        if (current) await trx('kmc_address_states').where({ borrowernumber: b.borrowernumber, address }).update(values);
        else await trx('kmc_address_states').insert({ borrowernumber: b.borrowernumber, address, ...values });
      }
      return { before, after, softCount };
    });
  }

  /** The state of each patron's address as Koha has it now; patrons whose address has no state (or a usable one) are left out. */
  async check(patrons: Array<{ borrowernumber: number; email: string }>): Promise<Map<number, Exclude<AddressState, 'usable'>>> {
    const out = new Map<number, Exclude<AddressState, 'usable'>>();
    const wanted = new Map(patrons.map((p) => [p.borrowernumber, norm(p.email)]));
    const numbers = [...wanted.keys()];
    for (let i = 0; i < numbers.length; i += 1000) {
      const rows = await this.knex<StateRow>('kmc_address_states')
        .whereIn('borrowernumber', numbers.slice(i, i + 1000))
        .whereNot('state', 'usable')
        .select('borrowernumber', 'address', 'state');
      for (const r of rows) {
        const n = r.borrowernumber;
        if (wanted.get(n) === r.address && r.state !== 'usable') out.set(n, r.state);
      }
    }
    return out;
  }

  /** Every state kept for a patron's addresses, newest first. */
  async forPatron(borrowernumber: number): Promise<AddressStateRow[]> {
    const rows = await this.knex<StateRow>('kmc_address_states').where({ borrowernumber }).orderBy('changed_at', 'desc').select();
    return rows.map(toRow);
  }

  /** Staff clear a state: the address is used again and soft bounces before now no longer count. Returns whether there was one to clear. */
  async clear(borrowernumber: number, address: string, staffNumber: number, at: Date): Promise<boolean> {
    const n = await this.knex('kmc_address_states')
      .where({ borrowernumber, address: norm(address) })
      .whereNot('state', 'usable')
      .update({ state: 'usable', reason: null, changed_at: toDbTime(at), counted_from: toDbTime(at), cleared_by: staffNumber });
    return n > 0;
  }

  /** Bounces received since a time, counted by kind. */
  async bounceCounts(since: Date): Promise<Record<BounceEffectKind, number>> {
    const rows = await this.knex('kmc_bounces')
      .where('received_at', '>=', toDbTime(since))
      .groupBy('kind')
      .select<Array<{ kind: string; n: number | string }>>('kind', this.knex.raw('COUNT(*) AS n'));
    const out: Record<BounceEffectKind, number> = { hard: 0, soft: 0, complaint: 0 };
    for (const r of rows) if (r.kind === 'hard' || r.kind === 'soft' || r.kind === 'complaint') out[r.kind] = Number(r.n);
    return out;
  }

  /** Addresses that became undeliverable or complained since a time, newest first. */
  async wentBad(since: Date, limit = 100): Promise<AddressStateRow[]> {
    const rows = await this.knex<StateRow>('kmc_address_states')
      .whereIn('state', ['undeliverable', 'complained'])
      .where('changed_at', '>=', toDbTime(since))
      .orderBy('changed_at', 'desc')
      .limit(limit)
      .select();
    return rows.map(toRow);
  }
}
