/**
 * The host reader: the only code that reads Koha's tables. It never writes
 * them. Queries are set-based and stream, so a consortium's overdue run is
 * one query, not one per patron.
 */
import type { Knex } from 'knex';
import { streamRows } from '../db';
import { createNoticeReader, type NoticeReader } from './notices';
import { createKohaNoticeReader, type KohaNoticeReader } from './koha-notices';
import type { Branch, EmailChangeRow, OverdueLoan, PatronContact } from './types';
import { EMAIL_FIELDS_SQL, loansDueBefore, patronColumns } from './queries';
import { pluginSwitch, type PluginState, type PluginSwitchOptions } from './plugin';
import { readKohaSmtpServers, type KohaSmtpServers } from './smtp';
import { readKohaCalendars, type KohaBranchCalendar } from './calendar';

export interface HostReader extends NoticeReader, KohaNoticeReader {
  /**
   * Whether the sidecar may generate and send: Koha's toggle (`__ENABLED__` = 1) when the plugin is installed;
   * with no rows, on only until the sidecar has once seen the plugin (or with KMC_WITHOUT_PLUGIN).
   */
  isEnabled(pluginClass: string): Promise<boolean>;
  /** Whether Koha has the plugin installed (any plugin_data row of its class), its version, the toggle, and the outcome. */
  pluginState(pluginClass: string): Promise<PluginState>;
  systemPreferences(names: string[]): Promise<Record<string, string | null>>;
  /** Koha's SMTP servers: the one named for each library, and the default. */
  smtpServers(): Promise<KohaSmtpServers>;
  /** Koha's calendar of every branch (closed weekdays, closed days, exceptions). */
  calendars(): Promise<Map<string, KohaBranchCalendar>>;
  branches(): Promise<Map<string, Branch>>;
  patron(borrowernumber: number): Promise<PatronContact | null>;
  /** Names and card numbers for lists of messages: one query for the whole page. */
  patronNames(borrowernumbers: number[]): Promise<Map<number, { name: string; cardnumber: string | null }>>;
  /** Active loans due before the given local time, ordered by patron so callers can group while streaming. */
  streamOverdueLoans(opts: { dueBefore: string; branchcode?: string | null }): AsyncIterable<OverdueLoan>;
  /** Several patrons' contact data in one query. */
  patrons(borrowernumbers: number[]): Promise<Map<number, PatronContact>>;
  /**
   * Patrons whose address columns differ from what the verification scan last
   * recorded (or who have no record yet), with that record, ordered by patron.
   * The database compares fingerprints, so unchanged patrons never leave it.
   */
  streamEmailChanges(): AsyncIterable<EmailChangeRow>;
  /** Verification records whose patron no longer exists in Koha. */
  verificationsWithoutPatron(limit: number): Promise<number[]>;
  /** Of these loans (Koha's issue ids), the ones still out: returned loans move to old_issues. */
  loansOut(issueIds: number[]): Promise<Set<number>>;
  /**
   * Where these loans and holds stand in Koha now, in one query: a loan still out with its due date (a returned
   * loan has moved to old_issues), a hold still in `reserves` with its status and expiry (a hold picked up or
   * cancelled has moved to old_reserves). Absent from the answer: gone from Koha's current tables.
   */
  loansAndHoldsNow(ids: { issueIds: number[]; reserveIds: number[] }): Promise<LoansAndHoldsNow>;
  /** One patron's loans now, with item and title, earliest due first (a template preview with a real patron). */
  loansOf(borrowernumber: number, limit: number): Promise<OverdueLoan[]>;
}

export interface LoansAndHoldsNow {
  /** Issue id to its due date as Koha has it now (`YYYY-MM-DD HH:MM:SS`). */
  loans: Map<number, string>;
  holds: Map<number, { found: string | null; expirationdate: string | null }>;
}

export function createHostReader(knex: Knex, plugin: PluginSwitchOptions): HostReader {
  const pluginState = pluginSwitch(knex, plugin);
  return {
    // The notice engine's queries: one streaming query per message type.
    ...createNoticeReader(knex),
    // Koha's own letters and message queue.
    ...createKohaNoticeReader(knex),
    async isEnabled(pluginClass) {
      return (await pluginState(pluginClass)).on;
    },

    pluginState,

    async systemPreferences(names) {
      const rows = await knex('systempreferences')
        .whereIn('variable', names)
        .select<Array<{ variable: string; value: string | null }>>('variable', 'value');
      const out: Record<string, string | null> = {};
      for (const n of names) out[n] = null;
      // Koha compares preference names without regard to case.
      for (const r of rows) {
        const wanted = names.find((n) => n.toLowerCase() === r.variable.toLowerCase());
        if (wanted) out[wanted] = r.value;
      }
      return out;
    },

    smtpServers: () => readKohaSmtpServers(knex),
    calendars: () => readKohaCalendars(knex),

    async branches() {
      const rows = await knex('branches').select<Branch[]>(
        'branchcode',
        'branchname',
        'branchemail',
        'branchreplyto',
        'branchreturnpath',
        'branchphone',
        'branchaddress1',
        'branchaddress2',
        'branchzip',
        'branchcity',
        'branchcountry',
      );
      return new Map(rows.map((r) => [r.branchcode, r]));
    },

    async patron(borrowernumber) {
      const row = await knex({ b: 'borrowers' })
        .where('b.borrowernumber', borrowernumber)
        .first<PatronContact | undefined>(patronColumns(knex));
      return row ?? null;
    },

    async patronNames(borrowernumbers) {
      const ids = [...new Set(borrowernumbers)];
      const out = new Map<number, { name: string; cardnumber: string | null }>();
      if (!ids.length) return out;
      const rows: Array<{ borrowernumber: number; firstname: string | null; surname: string | null; cardnumber: string | null }> =
        await knex('borrowers').whereIn('borrowernumber', ids).select('borrowernumber', 'firstname', 'surname', 'cardnumber');
      for (const r of rows)
        out.set(r.borrowernumber, { name: [r.firstname, r.surname].filter(Boolean).join(' '), cardnumber: r.cardnumber });
      return out;
    },

    streamOverdueLoans({ dueBefore, branchcode }) {
      const q = loansDueBefore(knex, dueBefore);
      if (branchcode) void q.where('i.branchcode', branchcode);
      return streamRows(knex, q);
    },

    async loansOut(issueIds) {
      const out = new Set<number>();
      const ids = [...new Set(issueIds)];
      for (let i = 0; i < ids.length; i += 1000) {
        const rows = await knex('issues')
          .whereIn('issue_id', ids.slice(i, i + 1000))
          .select<Array<{ issue_id: number }>>('issue_id');
        for (const r of rows) out.add(r.issue_id);
      }
      return out;
    },

    async loansAndHoldsNow({ issueIds, reserveIds }) {
      const now: LoansAndHoldsNow = { loans: new Map(), holds: new Map() };
      const loans = [...new Set(issueIds)];
      const holds = [...new Set(reserveIds)];
      if (!loans.length && !holds.length) return now;
      // One round trip for a whole claim batch: both tables by primary key, as one UNION ALL.
      const parts: Knex.QueryBuilder[] = [];
      if (loans.length)
        parts.push(
          knex('issues')
            .whereIn('issue_id', loans)
            .select(
              knex.raw("'loan' AS kind"),
              'issue_id AS id',
              'date_due AS due',
              knex.raw('NULL AS found'),
              knex.raw('NULL AS expires'),
            ),
        );
      if (holds.length)
        parts.push(
          knex('reserves')
            .whereIn('reserve_id', holds)
            .select(knex.raw("'hold' AS kind"), 'reserve_id AS id', knex.raw('NULL AS due'), 'found', 'expirationdate AS expires'),
        );
      const [first, ...rest] = parts;
      const rows = (await (rest.length ? first.unionAll(rest, true) : first)) as Array<{
        kind: string;
        id: number | string;
        due: string | null;
        found: string | null;
        expires: string | null;
      }>;
      for (const r of rows) {
        if (r.kind === 'loan') now.loans.set(Number(r.id), r.due ?? '');
        else now.holds.set(Number(r.id), { found: r.found, expirationdate: r.expires ? r.expires.slice(0, 10) : null });
      }
      return now;
    },

    async loansOf(borrowernumber, limit) {
      // Every loan is due before the end of time: the overdue query, narrowed to one patron.
      const q = loansDueBefore(knex, '9999-12-31 23:59:59').where('i.borrowernumber', borrowernumber).limit(limit);
      return (await q) as OverdueLoan[];
    },

    async patrons(borrowernumbers) {
      const out = new Map<number, PatronContact>();
      const ids = [...new Set(borrowernumbers)];
      for (let i = 0; i < ids.length; i += 1000) {
        const rows = await knex({ b: 'borrowers' })
          .whereIn('b.borrowernumber', ids.slice(i, i + 1000))
          .select<PatronContact[]>(patronColumns(knex));
        for (const r of rows) out.set(r.borrowernumber, r);
      }
      return out;
    },

    streamEmailChanges() {
      // The same text on both sides of the comparison, so what the database reports is what it compares.
      // The category is in it too: moving a patron into an exempt category counts as a change.
      const fingerprint =
        "SHA2(CONCAT_WS(CHAR(10 USING utf8mb4), COALESCE(b.email, ''), COALESCE(b.emailpro, ''), COALESCE(b.B_email, ''), b.categorycode), 256)";
      return streamRows(
        knex,
        knex({ b: 'borrowers' })
          .leftJoin({ v: 'kmc_email_verifications' }, 'v.borrowernumber', 'b.borrowernumber')
          .where((w) => {
            void w
              .where((n) => {
                void n
                  .whereNull('v.borrowernumber')
                  .andWhere((a) => void a.where('b.email', '<>', '').orWhere('b.emailpro', '<>', '').orWhere('b.B_email', '<>', ''));
              })
              .orWhere((c) => {
                void c
                  .whereNotNull('v.borrowernumber')
                  .andWhere((d) => void d.whereNull('v.source_hash').orWhereRaw(`v.source_hash <> ${fingerprint}`));
              })
              .orWhere((r) => void r.where('v.state', 'pending').whereNull('v.message_id'));
          })
          .select([
            'b.borrowernumber',
            'b.email',
            'b.emailpro',
            'b.B_email',
            'b.categorycode',
            'b.branchcode',
            'b.lang',
            knex.raw(`${EMAIL_FIELDS_SQL} AS email_fields`),
            knex.raw(`${fingerprint} AS source_hash`),
            'v.borrowernumber as v_borrowernumber',
            'v.email as v_email',
            'v.state as v_state',
            'v.source_hash as v_source_hash',
            'v.token_version as v_token_version',
            'v.message_id as v_message_id',
          ])
          .orderBy('b.borrowernumber'),
      );
    },

    async verificationsWithoutPatron(limit) {
      return await knex({ v: 'kmc_email_verifications' })
        .leftJoin({ b: 'borrowers' }, 'b.borrowernumber', 'v.borrowernumber')
        .whereNull('b.borrowernumber')
        .limit(limit)
        .pluck<number[]>('v.borrowernumber');
    },
  };
}
