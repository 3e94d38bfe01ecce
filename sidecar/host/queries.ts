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

/** Active loans due before a local time with their patron, item, title and category, ordered by patron. */
export function loansDueBefore(knex: Knex, dueBefore: string): Knex.QueryBuilder {
  return knex({ i: 'issues' })
    .join({ b: 'borrowers' }, 'b.borrowernumber', 'i.borrowernumber')
    .join({ it: 'items' }, 'it.itemnumber', 'i.itemnumber')
    .join({ bi: 'biblio' }, 'bi.biblionumber', 'it.biblionumber')
    .leftJoin({ c: 'categories' }, 'c.categorycode', 'b.categorycode')
    .where('i.date_due', '<', dueBefore)
    .select([
      ...PATRON_COLUMNS,
      'i.issue_id',
      'i.itemnumber',
      'i.date_due',
      'i.branchcode as issue_branchcode',
      'it.barcode',
      'it.homebranch',
      'it.itype',
      'it.itemcallnumber',
      'it.replacementprice',
      'bi.biblionumber',
      'bi.title as biblio_title',
      'bi.author',
      'c.overduenoticerequired',
    ])
    .orderBy([{ column: 'i.borrowernumber' }, { column: 'i.date_due' }, { column: 'i.issue_id' }]);
}
