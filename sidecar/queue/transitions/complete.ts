/**
 * Complete: a claimed message moves on after one attempt, to `sent` (a
 * letter: `to_print`, until staff confirm they printed it), back
 * to `pending` for a later try, or to `failed`. Guarded by the claim: a
 * worker whose lease ran out and whose message was claimed again cannot
 * overwrite the newer state.
 */
import type { Knex } from 'knex';
import { fromDbTime, toDbTime } from '../../db';
import type { CompletionChange, MessageRow } from '../types';
import { applyWaitingReceipts, waitingReceipts, type SentSms } from './receipt';
import { insertEvents, numbers, withLockRetry, writeEvents, type EventInput } from './shared';

type Change = CompletionChange & { id: number };

/**
 * Thrown inside the quick transaction to roll it back, for the way that reads the rows first: some message is no
 * longer this worker's, or (in one round trip) receipts wait for its SMS.
 */
class NotAllClaimed extends Error {}

/**
 * Records the outcomes of many claimed messages in one transaction (one
 * commit for the lot), each guarded by the claim. A receipt that arrived
 * before `sent` was stored is applied here. Returns, per change, whether it
 * was recorded.
 *
 * Usually every message is still this worker's, and the guarded UPDATE alone
 * shows it (it changed as many rows as there are outcomes): then no row is
 * read first. When it changed fewer, that transaction is rolled back and the
 * outcomes are written again after reading which rows are still ours.
 * Given `oneTrip` (connections that take several statements at once), the
 * whole transaction goes to the server in one round trip, the server
 * deciding whether to commit.
 */
export async function completeMany(knex: Knex, workerId: string, changes: Change[], oneTrip?: Knex): Promise<boolean[]> {
  if (!changes.length) return [];
  // The time of the claim bounds the receipts that can be a message's; without it, it is read from the row.
  const knownClaims = changes.every((c) => c.claimedAt !== undefined);
  if (knownClaims) {
    const claimedAt = new Map(changes.map((c) => [c.id, c.claimedAt ?? c.at]));
    try {
      await withLockRetry(() =>
        oneTrip
          ? writeInOneTrip(oneTrip, workerId, changes, claimedAt)
          : knex.transaction(async (trx) => {
              if ((await updateOutcomes(trx, workerId, changes)) !== changes.length) throw new NotAllClaimed();
              await recordOutcomes(trx, workerId, changes, claimedAt);
            }),
      );
      return changes.map(() => true);
    } catch (err) {
      if (!(err instanceof NotAllClaimed)) throw err;
    }
  }
  return withLockRetry(() =>
    knex.transaction(async (trx) => {
      // Lock the rows still ours; a message whose lease ran out and was claimed again is left alone.
      // Their updated_at is still the time of the claim, before which no receipt can be theirs.
      const claimed = await trx<MessageRow>('kmc_messages')
        .whereIn(
          'id',
          changes.map((c) => c.id),
        )
        .where({ status: 'sending', claimed_by: workerId })
        .forUpdate()
        .select<Array<Pick<MessageRow, 'id' | 'updated_at'>>>('id', 'updated_at');
      const claimedIds = numbers(claimed.map((r) => r.id));
      const owned = new Set(claimedIds);
      const claimedAt = new Map(claimed.flatMap((r, i) => [[claimedIds[i], fromDbTime(r.updated_at)] as const]));
      const mine = changes.filter((c) => owned.has(c.id));
      if (mine.length) {
        await updateOutcomes(trx, workerId, mine);
        await recordOutcomes(trx, workerId, mine, claimedAt);
      }
      return changes.map((c) => owned.has(c.id));
    }),
  );
}

type Value = string | number | null;
/** A column's new value for one message, or its current value kept. */
type Assigned = { value: Value } | { keep: true };

/**
 * A column's new values for a group, as an expression: one placeholder when every message takes the same value
 * (the usual case for status and reason), else a CASE on the id.
 */
function newValues(column: string, ids: number[], values: Assigned[]): { sql: string; bindings: Value[] } {
  const [first] = values;
  if (values.every((v) => 'keep' in v)) return { sql: column, bindings: [] };
  if ('value' in first && values.every((v) => 'value' in v && v.value === first.value)) return { sql: '?', bindings: [first.value] };
  const bindings: Value[] = [];
  const arms = values.map((v, i) => {
    bindings.push(ids[i]);
    if ('keep' in v) return `WHEN ? THEN ${column}`;
    bindings.push(v.value);
    return 'WHEN ? THEN ?';
  });
  return { sql: `CASE id ${arms.join(' ')} END`, bindings };
}

/**
 * The guarded UPDATE of a group, one statement on the table alone, found by primary key (a join with a table of
 * values made the server build temporary tables, one on disk for the TEXT column: most of a commit's time). Each
 * expression reads only its own column, so the order the server assigns in does not matter.
 */
function updateStatement(workerId: string, changes: Change[]): { sql: string; bindings: Value[] } {
  const ids = changes.map((c) => c.id);
  const column = (name: string, of: (c: Change) => Assigned) => {
    const expr = newValues(name, ids, changes.map(of));
    return { sql: `${name} = ${expr.sql}`, bindings: expr.bindings };
  };
  const firstSent = newValues(
    'first_sent_at',
    ids,
    changes.map((c) => (c.status === 'sent' || c.status === 'to_print' ? { value: toDbTime(c.at) } : { keep: true })),
  );
  const sets = [
    // The first send is kept: only a message without one takes this outcome's time.
    { sql: `first_sent_at = COALESCE(first_sent_at, ${firstSent.sql})`, bindings: firstSent.bindings },
    column('status', (c) => ({ value: c.status })),
    column('status_reason', (c) => ({ value: c.reason ?? null })),
    column('updated_at', (c) => ({ value: toDbTime(c.at) })),
    column('last_reply', (c) => ({ value: c.reply ?? null })),
    column('next_attempt_at', (c) => ({ value: c.nextAttemptAt ? toDbTime(c.nextAttemptAt) : null })),
    column('provider_id', (c) => (c.providerId !== undefined ? { value: c.providerId } : { keep: true })),
    column('provider_account', (c) => (c.providerAccount !== undefined ? { value: c.providerAccount } : { keep: true })),
  ];
  return {
    sql: `UPDATE kmc_messages SET ${sets.map((a) => a.sql).join(', ')}, lease_until = NULL, claimed_by = NULL
     WHERE id IN (${ids.map(() => '?').join(', ')}) AND status = 'sending' AND claimed_by = ?`,
    bindings: [...sets.flatMap((a) => a.bindings), ...ids, workerId],
  };
}

/** Runs the guarded UPDATE; returns the rows it changed. Every row it matches changes (its status leaves `sending`), so the count is of the messages still ours. */
async function updateOutcomes(trx: Knex.Transaction, workerId: string, changes: Change[]): Promise<number> {
  const { sql, bindings } = updateStatement(workerId, changes);
  const [result] = (await trx.raw(sql, bindings)) as [{ affectedRows: number }];
  return result.affectedRows;
}

/** A connection of the pool, as the driver gives it: one query at a time, several statements in one. */
interface DriverConnection {
  query(sql: string, values: unknown[], done: (err: Error | null, results: unknown) => void): void;
}

interface PoolClient {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<unknown>;
}

/**
 * The whole transaction in one multi-statement query, one round trip: its start, the UPDATE, the event rows, the
 * locking look for waiting receipts, and a block that commits only when the UPDATE changed every message and no
 * receipt waits (the server decides, so no second trip is needed for the COMMIT). Otherwise it is rolled back
 * (NotAllClaimed) and the outcomes are written the way that reads the rows first and applies the receipts.
 */
async function writeInOneTrip(oneTrip: Knex, workerId: string, changes: Change[], claimedAt: Map<number, Date>): Promise<void> {
  const sent = sentSms(changes, claimedAt);
  const statements = [
    { sql: 'START TRANSACTION', bindings: [] },
    updateStatement(workerId, changes),
    { sql: 'SET @kmc_outcomes = ROW_COUNT()', bindings: [] },
    insertEvents(oneTrip, eventsOf(workerId, changes)).toSQL().toNative(),
    ...(sent.length
      ? [waitingReceipts(oneTrip, sent).toSQL().toNative(), { sql: 'SET @kmc_waiting = FOUND_ROWS()', bindings: [] }]
      : [{ sql: 'SET @kmc_waiting = 0', bindings: [] }]),
    {
      sql: `BEGIN NOT ATOMIC
        IF @kmc_outcomes = ? AND @kmc_waiting = 0 THEN COMMIT; SET @kmc_committed = 1;
        ELSE ROLLBACK; SET @kmc_committed = 0;
        END IF;
      END`,
      bindings: [changes.length],
    },
    { sql: 'SELECT @kmc_committed AS committed', bindings: [] },
  ];
  const pool = oneTrip.client as PoolClient;
  const connection = await pool.acquireConnection();
  const query = (sql: string, values: unknown[] = []) =>
    new Promise<unknown>((resolve, reject) => {
      connection.query(sql, values, (err, results) => {
        if (err) reject(err);
        else resolve(results);
      });
    });
  let open = true;
  try {
    const results = (await query(
      statements.map((q) => q.sql).join(';\n'),
      statements.flatMap((q) => q.bindings),
    )) as unknown[];
    // The block committed or rolled back: either way no transaction is left open.
    open = false;
    const [last] = results[results.length - 1] as Array<{ committed: number | string | null }>;
    if (Number(last.committed) !== 1) throw new NotAllClaimed();
  } finally {
    // Whatever stopped it before the block (a deadlock, a lost connection): nothing of it stays.
    if (open) await query('ROLLBACK').catch(() => undefined);
    await pool.releaseConnection(connection);
  }
}

/** The event row of each outcome, and the receipts that came before an SMS was stored as sent. */
async function recordOutcomes(
  trx: Knex.Transaction,
  workerId: string,
  mine: Change[],
  claimedAt: Map<number, Date | null | undefined>,
): Promise<void> {
  await writeEvents(trx, eventsOf(workerId, mine));
  const sent = sentSms(mine, claimedAt);
  if (sent.length) await applyWaitingReceipts(trx, sent, mine[0].at);
}

function eventsOf(workerId: string, changes: Change[]): EventInput[] {
  return changes.map((c) => ({ messageId: c.id, at: c.at, status: c.status, detail: c.detail, actor: workerId }));
}

/** The SMS of a group stored as sent with the SMSC's id: their receipts may have come already. */
function sentSms(changes: Change[], claimedAt: Map<number, Date | null | undefined>): SentSms[] {
  return changes
    .filter((c) => c.status === 'sent' && c.providerId && (c.channel === undefined || c.channel === 'sms'))
    .map((c) => ({
      id: c.id,
      providerId: c.providerId ?? '',
      account: c.providerAccount ?? '',
      claimedAt: claimedAt.get(c.id) ?? c.at,
    }));
}
