-- A failed sign-in names the staff member it was for when the typed name
-- (user name or card number) belongs to someone, so failures count per person
-- however they named themselves, and per typed name only when it matches no one.
-- Append-only; every statement is safe to run again.

ALTER TABLE kmc_signin_failures
  ADD COLUMN IF NOT EXISTS borrowernumber INT NULL COMMENT 'the staff member the typed name belongs to, when it belongs to one';

ALTER TABLE kmc_signin_failures ADD INDEX IF NOT EXISTS kmc_signin_failures_staff (borrowernumber, at);
