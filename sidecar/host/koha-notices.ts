/**
 * Koha's own notices: its notice letters (`letter`), which the sidecar can
 * bring along as templates, and its message queue (`message_queue`), where
 * Koha's own notice jobs leave what they send, so the sidecar can say when
 * those jobs still run beside it. Read only.
 */
import type { Knex } from 'knex';
import type { KohaLetter, KohaQueuedNotices } from './types';

/** How far back the doctor and the dashboard look for Koha's own notice jobs at work. */
export const KOHA_JOBS_DAYS = 7;
/** Letter codes of the notices the sidecar sends in Koha's place: overdue, pre-due and due, hold (by prefix). */
export const KOHA_JOB_LETTER_PREFIXES: readonly string[] = ['ODUE', 'PREDUE', 'DUE', 'HOLD'];
/** Letters that start like those but are not notices the sidecar sends (Koha's note to staff of a placed hold). */
const NOT_REPLACED = /^HOLDPLACED/;

export interface KohaNoticeReader {
  /** Koha's letters with these codes (every branch, transport and language), in Koha's key order. */
  kohaLetters(codes: readonly string[]): Promise<KohaLetter[]>;
  /**
   * Rows Koha's own jobs queued in the last `days` days (by the database's clock, as Koha stamps them) whose
   * letter code starts with one of `prefixes`, counted per letter code and transport.
   */
  kohaQueuedNotices(days: number, prefixes: readonly string[]): Promise<KohaQueuedNotices[]>;
}

export function createKohaNoticeReader(knex: Knex): KohaNoticeReader {
  return {
    async kohaLetters(codes) {
      if (!codes.length) return [];
      return await knex('letter')
        .whereIn('code', [...new Set(codes)])
        .orderBy(['module', 'code', 'branchcode', 'message_transport_type', 'lang'])
        .select<KohaLetter[]>('module', 'code', 'branchcode', 'name', 'is_html', 'title', 'content', 'message_transport_type', 'lang');
    },

    async kohaQueuedNotices(days, prefixes) {
      if (!prefixes.length) return [];
      const at = knex.raw('COALESCE(time_queued, updated_on)');
      const rows: Array<{ letter_code: string; message_transport_type: string; count: number | string; newest: string | null }> =
        await knex('message_queue')
          .where(at, '>=', knex.raw('NOW() - INTERVAL ? DAY', [days]))
          .andWhere((w) => {
            for (const p of prefixes) void w.orWhere('letter_code', 'like', `${p.replace(/[\\%_]/g, '\\$&')}%`);
          })
          .groupBy('letter_code', 'message_transport_type')
          .orderBy(['letter_code', 'message_transport_type'])
          .select('letter_code', 'message_transport_type', knex.raw('COUNT(*) AS count'), knex.raw(`MAX(${at.toQuery()}) AS newest`));
      return rows
        .filter((r) => !NOT_REPLACED.test(r.letter_code))
        .map((r) => ({
          letter_code: r.letter_code,
          message_transport_type: r.message_transport_type,
          count: Number(r.count),
          newest: r.newest,
        }));
    },
  };
}
