/**
 * A big message table for the page bench and the page tests: 500,000
 * messages (or as many as asked) over 1,000 days, one run a day, quickly made
 * from a sequence of numbers in the database itself. It lives with the bench
 * so the bench needs nothing from test/; the tests import it from here.
 */
import type { Knex } from 'knex';
import { toDbTime } from '../sidecar/db';

export const MESSAGES = 500_000;
export const DAYS = 1_000;
/** One run a day (of 500 messages at the default size); every 50th message was sent by hand (no run). */
export const RUNS = DAYS;
/** The last runs' messages get one item each (the items view of a run joins them). */
export const ITEM_RUNS = 100;

/**
 * Fills kmc_messages (with the runs, and items for the last runs' messages) quickly, from a sequence of numbers.
 * Expects the message, run and item tables empty: it writes ids from 1. `messages` is a multiple of RUNS.
 */
export async function fillMessages(knex: Knex, now: Date, messages = MESSAGES): Promise<void> {
  if (!Number.isInteger(messages / RUNS) || messages < RUNS) throw new Error(`fillMessages: ${messages} is not a multiple of ${RUNS}`);
  const [engines] = (await knex.raw('SHOW ENGINES')) as [Array<{ Engine: string; Support: string }>];
  const hasSequence = engines.some((e) => e.Engine === 'SEQUENCE' && e.Support !== 'NO');
  let numbers = `seq_1_to_${messages}`;
  if (!hasSequence) {
    // Without MariaDB's SEQUENCE engine: a numbers table, doubled until big enough.
    await knex.raw('CREATE TABLE load_numbers (seq INT NOT NULL PRIMARY KEY) ENGINE=InnoDB');
    await knex.raw('INSERT INTO load_numbers VALUES (1)');
    for (let n = 1; n < messages; n *= 2)
      await knex.raw(`INSERT INTO load_numbers SELECT seq + ${n} FROM load_numbers WHERE seq + ${n} <= ${messages}`);
    numbers = 'load_numbers';
  }
  const start = toDbTime(new Date(now.getTime() - DAYS * 86_400_000));
  const step = (DAYS * 86_400) / messages; // seconds between two messages
  // Messages older than the retention period (365 days) and one more night were anonymised already.
  const anonymisedBefore = toDbTime(new Date(now.getTime() - 366 * 86_400_000));
  const perRun = messages / RUNS;
  await knex.raw(
    `INSERT INTO kmc_runs (id, job, fire_time, run_date, message_type, status, started_at, finished_at, started_by)
     SELECT seq, 'overdue', DATE_ADD(?, INTERVAL (seq - 1) DAY), DATE(DATE_ADD(?, INTERVAL (seq - 1) DAY)), 'overdue', 'finished',
            DATE_ADD(?, INTERVAL (seq - 1) DAY), DATE_ADD(?, INTERVAL (seq - 1) DAY), 'scheduler'
     FROM ${numbers} WHERE seq <= ${RUNS}`,
    [start, start, start, start],
  );
  const batch = 100_000;
  for (let from = 1; from <= messages; from += batch) {
    const to = Math.min(messages, from + batch - 1);
    await knex.raw(
      `INSERT INTO kmc_messages (id, idempotency_key, message_type, level, borrowernumber, branchcode, channel, status, status_reason,
         to_address, subject, body_text, run_id, created_at, first_sent_at, updated_at, anonymised_at)
       SELECT l.seq, CONCAT('load:', l.seq),
         ELT(1 + l.seq % 5, 'overdue', 'overdue', 'predue', 'hold_waiting', 'hold_reminder'),
         IF(l.seq % 5 < 2, 1 + l.seq % 3, 0),
         1 + l.seq % 20000,
         IF(l.seq % 2, 'CPL', 'HAF'),
         ELT(1 + l.seq % 10, 'email', 'email', 'email', 'email', 'email', 'email', 'sms', 'sms', 'sms', 'print'),
         l.status,
         IF(l.status = 'failed', ELT(1 + l.seq % 3, '550 mailbox unavailable', 'SMSC: invalid destination', 'timeout'), NULL),
         IF(l.anonymised, NULL, CONCAT('patron', l.seq % 20000, '@example.org')),
         IF(l.anonymised, NULL, CONCAT('Your loans are overdue (', l.seq, ')')),
         IF(l.anonymised, NULL, REPEAT('The following items are overdue. ', 4)),
         IF(l.seq % 50 = 0, NULL, 1 + FLOOR((l.seq - 1) / ${perRun})),
         l.created_at, IF(l.status IN ('sent', 'delivered'), l.created_at, NULL), l.created_at,
         IF(l.anonymised, DATE_ADD(l.created_at, INTERVAL 366 DAY), NULL)
       FROM (
         SELECT t.seq, t.created_at, t.created_at < ? AS anonymised,
           CASE
             WHEN t.seq > ${messages - perRun} THEN 'proposed'
             WHEN t.seq % 100 < 3 THEN 'failed'
             WHEN t.seq % 100 = 3 THEN 'missing_contact'
             WHEN t.seq % 100 = 4 THEN 'cancelled'
             WHEN t.seq % 100 < 60 THEN 'delivered'
             ELSE 'sent'
           END AS status
         FROM (SELECT seq, DATE_ADD(?, INTERVAL FLOOR(seq * ${step}) SECOND) AS created_at FROM ${numbers} WHERE seq BETWEEN ? AND ?) t
       ) l`,
      [anonymisedBefore, start, from, to],
    );
  }
  await knex.raw(
    `INSERT INTO kmc_message_items (message_id, coverage_key, issue_id, itemnumber, biblionumber, barcode, title, date_due)
     SELECT m.id, CONCAT('load:', m.id), m.id, m.id, m.id, IF(m.anonymised_at IS NULL, CONCAT('B', m.id), NULL),
       IF(m.anonymised_at IS NULL, 'A title', NULL), m.created_at
     FROM kmc_messages m WHERE m.run_id > ${RUNS - ITEM_RUNS}`,
  );
  if (!hasSequence) await knex.raw('DROP TABLE load_numbers');
  // Fresh statistics, as a table that grew over years has.
  await knex.raw('ANALYZE TABLE kmc_messages, kmc_message_items, kmc_runs');
}
