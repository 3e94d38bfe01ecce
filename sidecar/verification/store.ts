/**
 * The verification tables: kmc_email_verifications (one row per patron: the
 * address last seen, its state, the link's fingerprint and deadlines),
 * kmc_verification_failures (wrong links per client, as an HMAC) and the
 * verification's rows in kmc_settings. The reads the pages, the gate and the
 * rate limiter make go through here; the scan's and the release's writes,
 * which run inside the queue's transactions, stay in the service for now.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../db';

export type VerificationState = 'verified' | 'pending' | 'expired' | 'exempt' | 'none';

/** One patron's row in kmc_email_verifications. */
export interface VerificationRow {
  borrowernumber: number;
  email: string;
  state: VerificationState;
  token_hash: string | null;
  sent_at: string | null;
  expires_at: string | null;
  verified_at: string | null;
  verified_by: string | null;
  updated_at: string;
  source_hash: string | null;
  token_version: number;
  message_id: number | null;
  lang: string | null;
  used_at: string | null;
  link_in_archive: number;
  created_at: string | null;
}

interface SettingRow {
  name: string;
  value: string | null;
}

interface FailureRow {
  id: number;
  client_hash: string;
  at: string;
}

export class VerificationStore {
  constructor(private readonly knex: Knex) {}

  private verifications(trx?: Knex.Transaction) {
    return (trx ?? this.knex)<VerificationRow>('kmc_email_verifications');
  }

  /** A patron's row, if the scan has seen the patron. */
  async forPatron(borrowernumber: number, trx?: Knex.Transaction): Promise<VerificationRow | null> {
    return (await this.verifications(trx).where({ borrowernumber }).first()) ?? null;
  }

  /** The row a link's token fingerprint belongs to. */
  async forTokenHash(hash: string): Promise<VerificationRow | null> {
    return (await this.verifications().where({ token_hash: hash }).first()) ?? null;
  }

  /** Values of the named kmc_settings rows (absent names are left out). */
  async settings(names: string[]): Promise<Record<string, string | null>> {
    const rows = await this.knex<SettingRow>('kmc_settings').whereIn('name', names).select('name', 'value');
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  /** Whether a kmc_settings row of this name exists. */
  async hasSetting(name: string): Promise<boolean> {
    return !!(await this.knex<SettingRow>('kmc_settings').where({ name }).first('name'));
  }

  /** How many wrong links a client sent since a time, and when the first of them came. */
  async failuresSince(clientHash: string, since: Date): Promise<{ count: number; first: string | null }> {
    const row = await this.knex<FailureRow>('kmc_verification_failures')
      .where({ client_hash: clientHash })
      .where('at', '>', toDbTime(since))
      .count({ n: '*' })
      .min({ first: 'at' })
      .first<{ n: number; first: string | null } | undefined>();
    return { count: row?.n ?? 0, first: row?.first ?? null };
  }

  async recordFailure(clientHash: string, at: Date): Promise<void> {
    await this.knex<FailureRow>('kmc_verification_failures').insert({ client_hash: clientHash, at: toDbTime(at) });
  }
}
