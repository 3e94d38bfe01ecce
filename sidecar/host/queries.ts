/**
 * Query parts the host reader's queries share: the patron columns every
 * notice needs, and loans due before a time with their item and title.
 */
import type { Knex } from 'knex';

export const PATRON_COLUMNS: string[] = [
  'b.borrowernumber',
  'b.cardnumber',
  'b.surname',
  'b.firstname',
  'b.title',
  'b.email',
  'b.emailpro',
  'b.B_email',
  'b.mobile',
  'b.smsalertnumber',
  'b.phone',
  'b.lang',
  'b.branchcode',
  'b.categorycode',
  'b.address',
  'b.address2',
  'b.zipcode',
  'b.city',
  'b.country',
];

/**
 * Which of a patron's e-mail columns Koha's notices use, in order, as Koha's
 * `notice_email_address` reads its preferences: `EmailFieldPrimary` (older
 * Koha: `AutoEmailPrimaryAddress`) naming one column means that column only;
 * `MULTI` means the columns in `EmailFieldSelection`; `OFF` (or nothing) the
 * first of email, emailpro, B_email (`EmailFieldPrecedence` may order them).
 * One uncorrelated subquery per preference, read once per query.
 */
const pref = (name: string) => `(SELECT sp.value FROM systempreferences sp WHERE sp.variable = '${name}' LIMIT 1)`;
export const EMAIL_FIELDS_SQL =
  `CASE COALESCE(NULLIF(${pref('EmailFieldPrimary')}, ''), NULLIF(${pref('AutoEmailPrimaryAddress')}, ''), 'OFF') ` +
  "WHEN 'email' THEN 'email' WHEN 'emailpro' THEN 'emailpro' WHEN 'B_email' THEN 'B_email' " +
  `WHEN 'MULTI' THEN COALESCE(${pref('EmailFieldSelection')}, '') ` +
  `ELSE COALESCE(NULLIF(${pref('EmailFieldPrecedence')}, ''), 'email,emailpro,B_email') END`;

/** The patron columns every notice needs, with the e-mail columns Koha's preferences pick (`email_fields`). */
export function patronColumns(knex: Knex): Array<string | Knex.Raw> {
  return [...PATRON_COLUMNS, knex.raw(`${EMAIL_FIELDS_SQL} AS email_fields`)];
}

/**
 * The item type Koha goes by, as its `effective_itemtype` decides: with the
 * system preference `item-level_itypes` on (Koha's default) the item's own
 * type, falling back to the record's when the item has none; with it off,
 * the record's (`biblioitems.itemtype`). One uncorrelated subquery, so the
 * preference is read once per query. Needs the aliases `it` (items) and
 * `bii` (biblioitems).
 */
export const EFFECTIVE_ITYPE_SQL =
  "CASE WHEN COALESCE((SELECT sp.value FROM systempreferences sp WHERE sp.variable = 'item-level_itypes' LIMIT 1), '1') IN ('0', '') " +
  "THEN bii.itemtype ELSE COALESCE(NULLIF(it.itype, ''), bii.itemtype) END";

/** Active loans due before a local time with their patron, item, title and category, ordered by patron. */
export function loansDueBefore(knex: Knex, dueBefore: string): Knex.QueryBuilder {
  return knex({ i: 'issues' })
    .join({ b: 'borrowers' }, 'b.borrowernumber', 'i.borrowernumber')
    .join({ it: 'items' }, 'it.itemnumber', 'i.itemnumber')
    .join({ bi: 'biblio' }, 'bi.biblionumber', 'it.biblionumber')
    .leftJoin({ bii: 'biblioitems' }, 'bii.biblioitemnumber', 'it.biblioitemnumber')
    .leftJoin({ c: 'categories' }, 'c.categorycode', 'b.categorycode')
    .where('i.date_due', '<', dueBefore)
    .select([
      ...patronColumns(knex),
      'i.issue_id',
      'i.itemnumber',
      'i.date_due',
      'i.issuedate',
      'i.lastreneweddate',
      'i.branchcode as issue_branchcode',
      'it.barcode',
      'it.homebranch',
      'it.holdingbranch',
      knex.raw(`${EFFECTIVE_ITYPE_SQL} AS itype`),
      'it.itemcallnumber',
      'it.replacementprice',
      'bi.biblionumber',
      'bi.title as biblio_title',
      'bi.author',
      'c.overduenoticerequired',
    ])
    .orderBy([{ column: 'i.borrowernumber' }, { column: 'i.date_due' }, { column: 'i.issue_id' }]);
}
