/**
 * Print: a letter written for staff to print waits in `to_print`; when staff
 * say they printed a batch (the way Mikromarc asks "update the database?"
 * after printing), each letter of it still waiting moves to `printed`, with
 * who confirmed it and when in its history.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../../db';
import { chunk, numbers, withLockRetry, writeEvents } from './shared';

export interface ConfirmPrintedArgs {
  /** The letters staff printed; those no longer waiting to be printed are left as they are. */
  ids: number[];
  /** The staff member's name, as the history shows it. */
  staffName: string;
  /** Who did it, as the history's actor (`staff:<borrowernumber>`). */
  actor: string;
  at: Date;
}

/** Moves the given letters from `to_print` to `printed`; returns the ids that moved. */
export async function confirmPrinted(knex: Knex, args: ConfirmPrintedArgs): Promise<number[]> {
  const moved: number[] = [];
  const at = toDbTime(args.at);
  for (const part of chunk([...new Set(args.ids)], 500)) {
    const ids = await withLockRetry(() =>
      knex.transaction(async (trx) => {
        const rows = await trx('kmc_messages')
          .whereIn('id', part)
          .where({ status: 'to_print', channel: 'print' })
          .forUpdate()
          .select<Array<{ id: number | string }>>('id');
        const mine = numbers(rows.map((r) => r.id));
        if (!mine.length) return [];
        await trx('kmc_messages')
          .whereIn('id', mine)
          .where({ status: 'to_print' })
          .update({ status: 'printed', status_reason: null, updated_at: at });
        await writeEvents(
          trx,
          mine.map((id) => ({
            messageId: id,
            at: args.at,
            status: 'printed',
            detail: `printed; confirmed by ${args.staffName}`,
            actor: args.actor,
          })),
        );
        return mine;
      }),
    );
    moved.push(...ids);
  }
  return moved;
}
