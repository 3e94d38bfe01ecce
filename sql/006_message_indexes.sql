-- Indexes for the message table, which grows without end: the pages and the
-- nightly anonymiser must reach their rows through an index, never by reading
-- every message. Each index costs every insert, so there are only three.
-- Append-only; every statement is safe to run again.

-- A run's messages (the run page, its review, letters and SMS report, the
-- list of runs): by run, then status, so "this run's proposed messages" and
-- the counts by status are read from the index alone.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_run (run_id, status);

-- Messages by creation time: the dashboard's last 30 days and the archive's
-- search by dates.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_created (created_at);

-- The nightly anonymiser looks for messages not yet anonymised and older than
-- the retention period. Those not yet anonymised come first in this index, in
-- creation order, so it reads only the messages that have just come of age,
-- not the years already done.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_anonymise (anonymised_at, created_at);
