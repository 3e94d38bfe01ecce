/**
 * What the notice engine reads from Koha: one streaming query per message
 * type (loans, waiting holds, new patrons), the patrons' messaging choices
 * for a batch of patrons at a time, Koha's overdue triggers for the rule
 * import, and the active currency. Read-only, like everything in host/.
 */
import type { Knex } from 'knex';
import { streamRows } from '../db';
import type { OverdueLoan, PatronContact } from './types';
import { EFFECTIVE_ITYPE_SQL, loansDueBefore, patronColumns } from './queries';

/** A loan with what every loan notice needs, including the item type's default replacement cost. */
export interface LoanCandidate extends OverdueLoan {
  defaultreplacecost: string | null;
}

/** A hold on the hold shelf (reserves.found = 'W') with its patron, record and item. */
export interface WaitingHold extends PatronContact {
  reserve_id: number;
  biblionumber: number;
  itemnumber: number | null;
  pickup_branchcode: string;
  waitingdate: string | null;
  expirationdate: string | null;
  biblio_title: string | null;
  author: string | null;
  barcode: string | null;
  homebranch: string | null;
  itype: string | null;
  itemcallnumber: string | null;
}

export interface NewPatron extends PatronContact {
  dateenrolled: string | null;
}

/** One messaging choice of a patron (borrower_message_preferences with its transports). */
export interface MessagingChoice {
  daysInAdvance: number | null;
  wantsDigest: boolean;
  transports: string[];
}

/** Koha's overdue triggers as kept in overduerules, one row per branch and category. */
export interface KohaOverdueTrigger {
  branchcode: string;
  categorycode: string;
  levels: Array<{ level: number; delay: number | null; letter: string | null; transports: string[] }>;
}

/** Koha's newer overdue triggers in circulation_rules (overdue_N_delay, _notice, _mtt). */
export interface KohaCirculationTrigger {
  branchcode: string | null;
  categorycode: string | null;
  itemtype: string | null;
  level: number;
  delay: number | null;
  letter: string | null;
  transports: string[];
}

export interface KohaCurrency {
  currency: string;
  symbol: string | null;
  isocode: string | null;
}

export interface NoticeReader {
  /**
   * Active loans due in [dueFrom, dueBefore) (local times as Koha keeps them),
   * ordered by patron so callers can group while streaming.
   */
  streamLoans(opts: { dueBefore: string; dueFrom?: string | null }): AsyncIterable<LoanCandidate>;
  /** Holds waiting on the shelf that have not expired before `expiresFrom` (YYYY-MM-DD), ordered by patron. */
  streamWaitingHolds(opts: { expiresFrom: string }): AsyncIterable<WaitingHold>;
  /** Patrons enrolled on a day in [from, to] (YYYY-MM-DD), ordered by patron. */
  streamNewPatrons(opts: { from: string; to: string }): AsyncIterable<NewPatron>;
  /** The patrons' own messaging choices for the given message names (Koha's message_attributes.message_name). */
  messagingChoices(borrowernumbers: number[], names: string[]): Promise<Map<number, Map<string, MessagingChoice>>>;
  /** The largest days_in_advance any patron chose for a message name, or null. */
  maxDaysInAdvance(name: string): Promise<number | null>;
  /** The active currency, or null when Koha keeps none (or the table is not there). */
  activeCurrency(): Promise<KohaCurrency | null>;
  overdueTriggers(): Promise<KohaOverdueTrigger[]>;
  /** Empty when this Koha version keeps no overdue triggers in circulation_rules. */
  circulationOverdueTriggers(): Promise<KohaCirculationTrigger[]>;
  categoryCodes(): Promise<string[]>;
}

/** Koha's overduerules row: up to three triggers, each a delay in days and a letter code. */
interface OverdueRulesRow {
  overduerules_id: number;
  branchcode: string | null;
  categorycode: string | null;
  delay1: number | null;
  delay2: number | null;
  delay3: number | null;
  letter1: string | null;
  letter2: string | null;
  letter3: string | null;
}

function isMissingTable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR';
}

function toInt(v: unknown): number | null {
  if (typeof v !== 'number' && typeof v !== 'string') return null;
  if (typeof v === 'string' && v.trim() === '') return null;
  const n = Number(v);
  return Number.isInteger(n) ? n : null;
}

/**
 * The candidates' rows, after a first look at issues alone. Koha keeps no
 * index on issues.date_due, so every loan is read either way; but the joined
 * query, sorted by patron, walks the patrons and reaches each loan through
 * its patron, which costs seconds at half a million loans even when none is
 * due. One pass over issues, which stops at the first loan in range, tells
 * cheaply whether there is anything to read.
 */
async function* streamIfAnyDue(
  knex: Knex,
  range: { dueBefore: string; dueFrom?: string | null },
  candidates: Knex.QueryBuilder,
): AsyncGenerator<LoanCandidate> {
  const first = knex('issues').where('date_due', '<', range.dueBefore);
  if (range.dueFrom) first.where('date_due', '>=', range.dueFrom);
  const any = await first.first<{ due: number } | undefined>(knex.raw('1 AS due'));
  if (!any) return;
  yield* streamRows<LoanCandidate>(knex, candidates);
}

export function createNoticeReader(knex: Knex): NoticeReader {
  return {
    streamLoans({ dueBefore, dueFrom }) {
      // The default replacement cost is the effective item type's, as Koha charges it.
      const q = loansDueBefore(knex, dueBefore)
        .leftJoin({ t: 'itemtypes' }, (j) => void j.on('t.itemtype', '=', knex.raw(EFFECTIVE_ITYPE_SQL)))
        .select('t.defaultreplacecost');
      if (dueFrom) q.where('i.date_due', '>=', dueFrom);
      return streamIfAnyDue(knex, { dueBefore, dueFrom }, q);
    },

    streamWaitingHolds({ expiresFrom }) {
      return streamRows(
        knex,
        knex({ r: 'reserves' })
          .join({ b: 'borrowers' }, 'b.borrowernumber', 'r.borrowernumber')
          .join({ bi: 'biblio' }, 'bi.biblionumber', 'r.biblionumber')
          .leftJoin({ it: 'items' }, 'it.itemnumber', 'r.itemnumber')
          .leftJoin({ bii: 'biblioitems' }, 'bii.biblioitemnumber', 'it.biblioitemnumber')
          .where('r.found', 'W')
          .where((w) => void w.whereNull('r.expirationdate').orWhere('r.expirationdate', '>=', expiresFrom))
          .select([
            ...patronColumns(knex),
            'r.reserve_id',
            'r.biblionumber',
            'r.itemnumber',
            'r.branchcode as pickup_branchcode',
            'r.waitingdate',
            'r.expirationdate',
            'bi.title as biblio_title',
            'bi.author',
            'it.barcode',
            'it.homebranch',
            'it.itemcallnumber',
            // A hold on a particular item goes by that item's effective type; a record-level hold by the type it asked for.
            knex.raw(`CASE WHEN it.itemnumber IS NULL THEN r.itemtype ELSE ${EFFECTIVE_ITYPE_SQL} END AS itype`),
          ])
          .orderBy([{ column: 'r.borrowernumber' }, { column: 'r.reserve_id' }]),
      );
    },

    streamNewPatrons({ from, to }) {
      return streamRows(
        knex,
        knex({ b: 'borrowers' })
          .whereBetween('b.dateenrolled', [from, to])
          .select([...patronColumns(knex), 'b.dateenrolled'])
          .orderBy('b.borrowernumber'),
      );
    },

    async messagingChoices(borrowernumbers, names) {
      const out = new Map<number, Map<string, MessagingChoice>>();
      const ids = [...new Set(borrowernumbers)];
      for (let i = 0; i < ids.length; i += 1000) {
        const rows = await knex({ p: 'borrower_message_preferences' })
          .join({ a: 'message_attributes' }, 'a.message_attribute_id', 'p.message_attribute_id')
          .leftJoin({ t: 'borrower_message_transport_preferences' }, 't.borrower_message_preference_id', 'p.borrower_message_preference_id')
          .whereIn('p.borrowernumber', ids.slice(i, i + 1000))
          .whereIn('a.message_name', names)
          .select<
            Array<{
              borrowernumber: number;
              message_name: string;
              days_in_advance: number | null;
              wants_digest: number;
              message_transport_type: string | null;
            }>
          >('p.borrowernumber', 'a.message_name', 'p.days_in_advance', 'p.wants_digest', 't.message_transport_type');
        for (const r of rows) {
          let byName = out.get(r.borrowernumber);
          if (!byName) out.set(r.borrowernumber, (byName = new Map<string, MessagingChoice>()));
          let choice = byName.get(r.message_name);
          if (!choice)
            byName.set(
              r.message_name,
              (choice = { daysInAdvance: toInt(r.days_in_advance), wantsDigest: !!r.wants_digest, transports: [] }),
            );
          if (r.message_transport_type && !choice.transports.includes(r.message_transport_type))
            choice.transports.push(r.message_transport_type);
        }
      }
      return out;
    },

    async maxDaysInAdvance(name) {
      const row = await knex({ p: 'borrower_message_preferences' })
        .join({ a: 'message_attributes' }, 'a.message_attribute_id', 'p.message_attribute_id')
        .where('a.message_name', name)
        .whereNotNull('p.borrowernumber')
        .max({ m: 'p.days_in_advance' })
        .first<{ m: number | null } | undefined>();
      return toInt(row?.m);
    },

    async activeCurrency() {
      try {
        const row = await knex('currency').where('active', 1).first<KohaCurrency | undefined>('currency', 'symbol', 'isocode');
        return row ?? null;
      } catch (err) {
        // Not every Koha database we are pointed at has the table; the caller falls back.
        if (isMissingTable(err)) return null;
        throw err;
      }
    },

    async overdueTriggers() {
      const rules = await knex('overduerules').orderBy('overduerules_id').select<OverdueRulesRow[]>();
      const transports = await knex('overduerules_transport_types')
        .orderBy('id')
        .select<Array<{ overduerules_id: number; letternumber: number; message_transport_type: string }>>(
          'overduerules_id',
          'letternumber',
          'message_transport_type',
        );
      return rules.map((r) => ({
        branchcode: r.branchcode ?? '',
        categorycode: r.categorycode ?? '',
        levels: ([1, 2, 3] as const).map((level) => ({
          level,
          delay: toInt(r[`delay${level}`]),
          letter: r[`letter${level}`] || null,
          transports: transports
            .filter((t) => t.overduerules_id === r.overduerules_id && t.letternumber === level)
            .map((t) => t.message_transport_type),
        })),
      }));
    },

    async circulationOverdueTriggers() {
      const rows = await knex('circulation_rules').where('rule_name', 'like', 'overdue\\_%').select<
        Array<{
          branchcode: string | null;
          categorycode: string | null;
          itemtype: string | null;
          rule_name: string;
          rule_value: string;
        }>
      >('branchcode', 'categorycode', 'itemtype', 'rule_name', 'rule_value');
      const out = new Map<string, KohaCirculationTrigger>();
      for (const r of rows) {
        const m = /^overdue_(\d)_(delay|notice|mtt)$/.exec(r.rule_name);
        if (!m) continue;
        const level = Number(m[1]);
        const key = [r.branchcode ?? '*', r.categorycode ?? '*', r.itemtype ?? '*', level].join('|');
        let t = out.get(key);
        if (!t)
          out.set(
            key,
            (t = {
              branchcode: r.branchcode,
              categorycode: r.categorycode,
              itemtype: r.itemtype,
              level,
              delay: null,
              letter: null,
              transports: [],
            }),
          );
        if (m[2] === 'delay') t.delay = toInt(r.rule_value);
        else if (m[2] === 'notice') t.letter = r.rule_value || null;
        else
          t.transports = r.rule_value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
      }
      return [...out.values()];
    },

    async categoryCodes() {
      return await knex('categories').orderBy('categorycode').pluck<string[]>('categorycode');
    },
  };
}
