-- A run holds a lease on its row while it works: it renews lease_until every
-- heartbeat. A run still `running` whose lease has passed lost its process
-- (killed, crashed, the machine went down) and is marked `abandoned` by the
-- next run or by whoever reads the run log, so it never stays `running`.
-- Append-only; every statement is safe to run again.

ALTER TABLE kmc_runs
  ADD COLUMN IF NOT EXISTS heartbeat_at DATETIME(3) NULL COMMENT 'when the run last said it was working',
  ADD COLUMN IF NOT EXISTS lease_until DATETIME(3) NULL COMMENT 'a running run not renewed by then is abandoned';

ALTER TABLE kmc_runs ADD INDEX IF NOT EXISTS kmc_runs_lease (status, lease_until);

-- Runs left running before leases existed get a day from their start.
UPDATE kmc_runs SET lease_until = DATE_ADD(started_at, INTERVAL 1 DAY) WHERE status = 'running' AND lease_until IS NULL;
