/**
 * The verification tables: kmc_email_verifications (one row per patron: the
 * address last seen, its state, the link's fingerprint and deadlines) and
 * kmc_verification_failures (wrong links per client, as an HMAC). All their
 * SQL is here: the gate's, the scan's, the pages' and the rate limiter's.
 * Also the verification's reads of the queue's table joined to these (which
 * verification mails are done, which patrons have held e-mail), taking the
 * link out of a verification mail's stored text, and the one optional write
 * to Koha's borrowers (clearing an expired address).
 *
 * Writes that must happen together with a release in the queue take the
 * transaction `withTransaction` opened, as the queue's store does.
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

/** A transaction a store method joins; opened by `withTransaction`. */
export type StoreTransaction = Knex.Transaction;

/** What the scan writes for one patron (the columns it decided; the others stay as they are). */
export type VerificationChange = Partial<Omit<VerificationRow, 'borrowernumber'>>;

/** A scan's update of a row it read: applied only while the row is still as read. */
export interface GuardedChange {
  borrowernumber: number;
  /** The token version and source fingerprint the scan read. */
  tokenVersion: number;
  sourceHash: string | null;
  change: VerificationChange;
}

interface FailureRow {
  id: number;
  client_hash: string;
  at: string;
}

interface StoredMailRow {
  id: number;
  idempotency_key: string;
  borrowernumber: number;
  message_type: string;
  status: string;
  channel: string;
  body_text: string | null;
  body_html: string | null;
}

/** The Koha columns an e-mail address is read from (and, when the library asks, cleared in). */
export const KOHA_EMAIL_COLUMNS = ['email', 'emailpro', 'B_email'] as const;
export type KohaEmailColumn = (typeof KOHA_EMAIL_COLUMNS)[number];

const CHUNK = 1000;

function chunks<T>(list: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export class VerificationStore {
  constructor(private readonly knex: Knex) {}

  private verifications(trx?: StoreTransaction) {
    return (trx ?? this.knex)<VerificationRow>('kmc_email_verifications');
  }

  private mails() {
    return this.knex<StoredMailRow>('kmc_messages');
  }

  /** Runs `work` in one transaction; the store methods given its handle take part in it. */
  withTransaction<T>(work: (trx: StoreTransaction) => Promise<T>): Promise<T> {
    return this.knex.transaction(work);
  }

  // ---- Reads ----

  /** A patron's row, if the scan has seen the patron (locked for the transaction when `forUpdate`). */
  async forPatron(borrowernumber: number, trx?: StoreTransaction, opts: { forUpdate?: boolean } = {}): Promise<VerificationRow | null> {
    const q = this.verifications(trx).where({ borrowernumber });
    return (await (opts.forUpdate ? q.forUpdate() : q).first()) ?? null;
  }

  /** The row a link's token fingerprint belongs to. */
  async forTokenHash(hash: string): Promise<VerificationRow | null> {
    return (await this.verifications().where({ token_hash: hash }).first()) ?? null;
  }

  /** What the gate needs of these patrons' rows (patrons the scan has not seen are absent). */
  async gateRows(borrowernumbers: number[]): Promise<Array<Pick<VerificationRow, 'borrowernumber' | 'email' | 'state' | 'expires_at'>>> {
    const out: Array<Pick<VerificationRow, 'borrowernumber' | 'email' | 'state' | 'expires_at'>> = [];
    for (const part of chunks(borrowernumbers))
      out.push(...(await this.verifications().whereIn('borrowernumber', part).select('borrowernumber', 'email', 'state', 'expires_at')));
    return out;
  }

  /** The link fingerprints stored for these patrons now. */
  async tokenHashes(borrowernumbers: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    for (const part of chunks(borrowernumbers))
      for (const r of await this.verifications().whereIn('borrowernumber', part).select('borrowernumber', 'token_hash'))
        out.set(r.borrowernumber, r.token_hash);
    return out;
  }

  /** Pending links whose time ran out by `now` (a database time), oldest patron first. */
  duePending(now: string, limit: number): Promise<Array<Pick<VerificationRow, 'borrowernumber' | 'email' | 'token_hash' | 'message_id'>>> {
    return this.verifications()
      .where({ state: 'pending' })
      .where('expires_at', '<=', now)
      .orderBy('borrowernumber')
      .limit(limit)
      .select('borrowernumber', 'email', 'token_hash', 'message_id');
  }

  /** The verification mails of these patrons' links. */
  async linkMailsOf(borrowernumbers: number[]): Promise<number[]> {
    const out: number[] = [];
    for (const part of chunks(borrowernumbers))
      for (const r of await this.verifications().whereIn('borrowernumber', part).whereNotNull('message_id').select('message_id'))
        if (r.message_id !== null) out.push(r.message_id);
    return out;
  }

  /** Verification mails that are done (sent or never to be sent) and whose stored text still holds the link. */
  async doneMailsWithLink(doneStatuses: readonly string[], limit: number): Promise<number[]> {
    const rows = await this.knex({ v: 'kmc_email_verifications' })
      .join({ m: 'kmc_messages' }, 'm.id', 'v.message_id')
      .where('v.link_in_archive', 1)
      .whereIn('m.status', doneStatuses)
      .limit(limit)
      .select<Array<{ message_id: number }>>('v.message_id');
    return rows.map((r) => r.message_id);
  }

  /** Patrons with held e-mail notices (not verification mails), with their verification state and address, if any. */
  heldEmailPatrons(): Promise<Array<{ borrowernumber: number; state: VerificationRow['state'] | null; email: string | null }>> {
    return this.knex({ m: 'kmc_messages' })
      .leftJoin({ v: 'kmc_email_verifications' }, 'v.borrowernumber', 'm.borrowernumber')
      .where({ 'm.status': 'held', 'm.channel': 'email' })
      .whereNot('m.message_type', 'email_verification')
      .distinct<Array<{ borrowernumber: number; state: VerificationRow['state'] | null; email: string | null }>>(
        'm.borrowernumber',
        'v.state',
        'v.email',
      );
  }

  /** The ids of the messages stored under these idempotency keys, with their patrons. */
  async mailIdsByKey(keys: string[]): Promise<Array<{ id: number; idempotency_key: string; borrowernumber: number }>> {
    const out: Array<{ id: number; idempotency_key: string; borrowernumber: number }> = [];
    for (const part of chunks(keys))
      out.push(...(await this.mails().whereIn('idempotency_key', part).select('id', 'idempotency_key', 'borrowernumber')));
    return out;
  }

  // ---- The scan's writes ----

  /**
   * One batch of the scan: first rows of patrons not seen before (a row
   * another sidecar made meanwhile is left alone), and changes to rows seen,
   * each only while the row is as the scan read it, so two sidecars scanning
   * at once never both send a link. One transaction.
   */
  async recordScan(
    inserts: Array<VerificationChange & { borrowernumber: number }>,
    updates: GuardedChange[],
    batchSize: number,
  ): Promise<void> {
    await this.knex.transaction(async (trx) => {
      for (const part of chunks(inserts, batchSize)) await this.verifications(trx).insert(part).onConflict('borrowernumber').ignore();
      for (const u of updates) {
        await this.verifications(trx)
          .where({ borrowernumber: u.borrowernumber, token_version: u.tokenVersion })
          .whereRaw('source_hash <=> ?', [u.sourceHash])
          .update(u.change);
      }
    });
  }

  /** The link's mail is stored: the row names it (and the language it was written in) while the link is still this one. */
  async linkQueued(borrowernumber: number, tokenHash: string, messageId: number, lang: string | null): Promise<void> {
    await this.verifications().where({ borrowernumber, token_hash: tokenHash }).update({ message_id: messageId, lang, link_in_archive: 1 });
  }

  /** A pending link ran out: expired, unless it changed meanwhile; answers whether it did. */
  async expire(borrowernumber: number, tokenHash: string | null, now: string): Promise<boolean> {
    const n = await this.verifications()
      .where({ borrowernumber, state: 'pending' })
      .whereRaw('token_hash <=> ?', [tokenHash])
      .update({ state: 'expired', updated_at: now });
    return n > 0;
  }

  /** The patron followed the link: verified, if the link is still pending and in time; answers whether it was. */
  async useLink(args: { borrowernumber: number; tokenHash: string; now: string; by: string }, trx?: StoreTransaction): Promise<boolean> {
    const n = await this.verifications(trx)
      .where({ borrowernumber: args.borrowernumber, token_hash: args.tokenHash, state: 'pending' })
      .where('expires_at', '>', args.now)
      .update({ state: 'verified', verified_at: args.now, verified_by: args.by, used_at: args.now, updated_at: args.now });
    return n > 0;
  }

  /** Staff confirmed the patron's address: verified, whatever it was (a first row if the scan has not seen the patron). */
  async markVerified(args: { borrowernumber: number; email: string; now: string; by: string }, trx?: StoreTransaction): Promise<void> {
    const { borrowernumber, email, now, by } = args;
    await this.verifications(trx)
      .insert({
        borrowernumber,
        email,
        state: 'verified',
        verified_at: now,
        verified_by: by,
        updated_at: now,
        created_at: now,
        token_version: 0,
      })
      .onConflict('borrowernumber')
      .merge({ email, state: 'verified', verified_at: now, verified_by: by, expires_at: null, updated_at: now });
  }

  /** These verification mails no longer hold a working link in the archive. */
  async linksRemoved(messageIds: number[]): Promise<void> {
    for (const part of chunks(messageIds)) await this.verifications().whereIn('message_id', part).update({ link_in_archive: 0 });
  }

  /** Takes the link out of the stored text of these verification mails (other messages are left alone). */
  async removeLinkFromMails(messageIds: number[], link: RegExp, replacement: string): Promise<void> {
    for (const part of chunks(messageIds)) {
      const rows = await this.mails()
        .whereIn('id', part)
        .where({ message_type: 'email_verification' })
        .select('id', 'body_text', 'body_html');
      for (const r of rows) {
        await this.mails()
          .where({ id: r.id })
          .update({
            body_text: r.body_text ? r.body_text.replace(link, replacement) : r.body_text,
            body_html: r.body_html ? r.body_html.replace(link, replacement) : r.body_html,
          });
      }
    }
  }

  /** Forgets patrons gone from Koha. */
  async forget(borrowernumbers: number[]): Promise<void> {
    for (const part of chunks(borrowernumbers)) await this.verifications().whereIn('borrowernumber', part).delete();
  }

  /**
   * The one write to a Koha table, off unless the library asks for it
   * (verification_clear_expired_in_koha) and it needs its own GRANT: clears
   * one column of a patron's record if it still holds this address.
   * Answers whether it did.
   */
  async clearAddressInKoha(borrowernumber: number, column: KohaEmailColumn, email: string): Promise<boolean> {
    const n = await this.knex('borrowers')
      .where({ borrowernumber })
      .where(column, email)
      .update({ [column]: null });
    return n > 0;
  }

  // ---- Wrong links (the rate limiter) ----

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

  /** Forgets wrong links older than a time. */
  async forgetFailuresBefore(at: Date): Promise<void> {
    await this.knex<FailureRow>('kmc_verification_failures').where('at', '<', toDbTime(at)).delete();
  }
}
