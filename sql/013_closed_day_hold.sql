-- The closed-day hold of a branch: the message types (overdue, predue, hold_waiting, ...)
-- whose SMS and e-mail wait, held, on a day Koha's calendar has the branch closed, and
-- go out on its next open day. NULL or empty: none waits (the default).
-- Append-only; every statement is safe to run again.

ALTER TABLE kmc_branch_settings
  ADD COLUMN IF NOT EXISTS closed_day_hold VARCHAR(255) NULL COMMENT 'message types held on closed days, comma between; NULL = none';
