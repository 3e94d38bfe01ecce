/**
 * Release: a `held` message goes to the queue once what held it is over:
 * the quiet hours of its branch (SMS), a day its branch is closed (SMS and
 * e-mail of the types the branch holds), or the patron's verification of
 * the e-mail address (e-mail, sent to the address that was verified).
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import type { MessageRow } from '../types';
import { QUIET_HOURS_REASON, type QuietHours } from '../quiet-hours';
import { CLOSED_DAY_REASON, type ClosedDays } from '../closed-days';
import { chunk, inTransaction, numbers, type Db, writeEvents } from './shared';

const PAGE = 1000;

/**
 * Moves SMS held for quiet hours to `pending` for every branch whose quiet
 * hours are over now; one whose branch is closed today and holds its type
 * stays `held`, now for the closed day. Safe with several sidecars: rows are
 * claimed with SKIP LOCKED and the update is guarded by the status.
 */
export async function releaseQuietHours(
  knex: Knex,
  quiet: QuietHours,
  now: Date,
  actor: string,
  closed?: ClosedDays | null,
): Promise<number> {
  const at = toDbTime(now);
  let released = 0;
  // Branches still quiet are left out by the query itself, so however many of their SMS wait, the others are found.
  const stillQuiet = quiet.quietBranches(now);
  for (;;) {
    const moved = await knex.transaction(async (trx) => {
      const q = trx<MessageRow>('kmc_messages')
        .where({ status: 'held', channel: 'sms' })
        .where('status_reason', 'like', `${QUIET_HOURS_REASON}%`);
      if (stillQuiet.length) void q.where((w) => void w.whereNotIn('branchcode', stillQuiet).orWhereNull('branchcode'));
      const rows = await q.orderBy('id').limit(PAGE).forUpdate().skipLocked().select('id', 'branchcode', 'message_type');
      const over = rows.filter((r) => !quiet.isQuiet(r.branchcode, now));
      const closedDay = (r: (typeof rows)[number]) => closed?.heldNow(r.branchcode, r.message_type, 'sms', now) ?? null;
      const ids = over.filter((r) => !closedDay(r)).map((r) => r.id);
      const stillHeld = over.filter((r) => closedDay(r));
      for (const r of stillHeld) {
        const reason = closedDay(r) ?? '';
        await trx('kmc_messages')
          .where({ id: r.id, status: 'held' })
          .update({ status_reason: reason.slice(0, 255), updated_at: at });
      }
      await writeEvents(
        trx,
        stillHeld.map((r) => ({
          messageId: r.id,
          at: now,
          status: 'held' as const,
          detail: `SMS quiet hours are over; ${closedDay(r) ?? ''}`,
          actor,
        })),
      );
      if (ids.length) {
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where({ status: 'held' })
          .update({ status: 'pending', status_reason: null, next_attempt_at: at, updated_at: at });
        await writeEvents(
          trx,
          ids.map((id) => ({ messageId: id, at: now, status: 'pending', detail: 'SMS quiet hours are over', actor })),
        );
      }
      return { seen: rows.length, ids: ids.length, moved: ids.length + stillHeld.length };
    });
    released += moved.ids;
    // A full page that is all still quiet would repeat forever; stop once nothing moved.
    if (moved.seen < PAGE || moved.moved === 0) break;
  }
  return released;
}

/**
 * Messages held for a closed day leave on the branch's next open day: to the
 * queue, or an SMS during the branch's quiet hours held for those instead.
 * Branches still closed are left out by the query. Safe with several
 * sidecars, as the quiet-hours release is.
 */
export async function releaseClosedDays(knex: Knex, closed: ClosedDays, quiet: QuietHours, now: Date, actor: string): Promise<number> {
  const at = toDbTime(now);
  let released = 0;
  const stillClosed = closed.closedBranches(now);
  for (;;) {
    const moved = await knex.transaction(async (trx) => {
      const q = trx<MessageRow>('kmc_messages')
        .where({ status: 'held' })
        .whereIn('channel', ['sms', 'email'])
        .where('status_reason', 'like', `${CLOSED_DAY_REASON}%`);
      if (stillClosed.length) void q.where((w) => void w.whereNotIn('branchcode', stillClosed).orWhereNull('branchcode'));
      const rows = await q.orderBy('id').limit(PAGE).forUpdate().skipLocked().select('id', 'branchcode', 'channel');
      const open = rows.filter((r) => !closed.isClosed(r.branchcode, now));
      const toQueue = open.filter((r) => !(r.channel === 'sms' && quiet.isQuiet(r.branchcode, now))).map((r) => r.id);
      const toQuiet = open.filter((r) => r.channel === 'sms' && quiet.isQuiet(r.branchcode, now));
      if (toQueue.length) {
        await trx('kmc_messages')
          .whereIn('id', toQueue)
          .where({ status: 'held' })
          .update({ status: 'pending', status_reason: null, next_attempt_at: at, updated_at: at });
      }
      for (const r of toQuiet) {
        await trx('kmc_messages')
          .where({ id: r.id, status: 'held' })
          .update({ status_reason: quiet.reason(r.branchcode), updated_at: at });
      }
      await writeEvents(trx, [
        ...toQueue.map((id) => ({ messageId: id, at: now, status: 'pending' as const, detail: 'the branch is open again', actor })),
        ...toQuiet.map((r) => ({
          messageId: r.id,
          at: now,
          status: 'held' as const,
          detail: `the branch is open again; ${quiet.reason(r.branchcode)}`,
          actor,
        })),
      ]);
      return { seen: rows.length, moved: open.length };
    });
    released += moved.moved;
    if (moved.seen < PAGE || moved.moved === 0) break;
  }
  return released;
}

/**
 * Held e-mail notices of these patrons go to the queue now, to the address
 * that was verified (the patron may have changed it since the notice was
 * made). Runs inside the caller's transaction when given one, so a
 * verification and its release commit together.
 */
export async function releaseVerifiedEmail(
  db: Db,
  patrons: Array<{ borrowernumber: number; email: string }>,
  at: Date,
  actor: string,
  detail: string,
): Promise<number> {
  if (!patrons.length) return 0;
  const now = toDbTime(at);
  return inTransaction(db, async (trx) => {
    let released = 0;
    for (const part of chunk(patrons, 500)) {
      const rows = await trx<MessageRow>('kmc_messages')
        .whereIn(
          'borrowernumber',
          part.map((p) => p.borrowernumber),
        )
        .where({ status: 'held', channel: 'email' })
        .whereNot('message_type', 'email_verification')
        .forUpdate()
        .select('id', 'borrowernumber');
      if (!rows.length) continue;
      const emailOf = new Map(part.map((p) => [p.borrowernumber, p.email]));
      const byPatron = new Map<number, number[]>();
      for (const r of rows) byPatron.set(r.borrowernumber, [...(byPatron.get(r.borrowernumber) ?? []), r.id]);
      for (const [borrowernumber, ids] of byPatron) {
        await trx('kmc_messages')
          .whereIn('id', ids)
          .where({ status: 'held' })
          .update({
            status: 'pending',
            status_reason: null,
            to_address: emailOf.get(borrowernumber) ?? null,
            next_attempt_at: now,
            updated_at: now,
          });
      }
      await writeEvents(
        trx,
        numbers(rows.map((r) => r.id)).map((id) => ({ messageId: id, at, status: 'pending', detail, actor })),
      );
      released += rows.length;
    }
    return released;
  });
}
