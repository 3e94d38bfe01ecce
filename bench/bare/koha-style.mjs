// The user's alternative: Koha's overdue_notices.pl query shape. For each branch and each
// trigger (delay window), one query for the patrons with loans in the window, then one query
// per patron for their items, one after another as DBI runs them. Nothing rendered or stored.
// Usage: node koha-style.mjs DATABASE_URL TODAY DELAY1,DELAY2,...
import mysql from 'mysql2/promise';

const [url, today, delayList] = process.argv.slice(2);
const delays = delayList
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const connection = await mysql.createConnection(url);
const [branches] = await connection.query('SELECT branchcode FROM branches ORDER BY branchcode');
let patrons = 0;
let items = 0;
for (const { branchcode } of branches) {
  for (let t = 0; t < delays.length; t += 1) {
    const from = delays[t];
    // The last trigger reaches every older loan, as the sidecar's run does.
    const to = t + 1 < delays.length ? delays[t + 1] - 1 : 36500;
    const [borrowers] = await connection.execute(
      `SELECT DISTINCT a.borrowernumber, a.firstname, a.surname, a.address, a.address2, a.city, a.zipcode, a.country,
              a.email, a.emailpro, a.B_email, a.smsalertnumber, a.phone, a.cardnumber
         FROM issues, borrowers a, categories
        WHERE a.borrowernumber = issues.borrowernumber AND a.categorycode = categories.categorycode
          AND categories.overduenoticerequired = 1 AND issues.branchcode = ?
          AND TO_DAYS(?) - TO_DAYS(issues.date_due) BETWEEN ? AND ?
        ORDER BY a.borrowernumber`,
      [branchcode, today, from, to],
    );
    for (const b of borrowers) {
      patrons += 1;
      const [rows] = await connection.execute(
        `SELECT biblio.*, items.*, issues.*, biblioitems.itemtype, br.branchname
           FROM issues, items, biblio, biblioitems, branches br
          WHERE items.itemnumber = issues.itemnumber AND biblio.biblionumber = items.biblionumber
            AND br.branchcode = items.homebranch AND biblio.biblionumber = biblioitems.biblionumber
            AND issues.borrowernumber = ? AND issues.branchcode = ?
            AND TO_DAYS(?) - TO_DAYS(issues.date_due) BETWEEN ? AND ?`,
        [b.borrowernumber, branchcode, today, from, to],
      );
      items += rows.length;
    }
  }
}
await connection.end();
process.stdout.write(`${JSON.stringify({ patrons, items })}\n`);
