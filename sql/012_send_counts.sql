-- Sending limits shared by every delivery worker: how many messages went
-- under one limit (a recipient domain, the mail relay, an SMS account) in one
-- span of time (the limit's minute, hour, day or second), so that two workers
-- or a restart do not go over it. Rows of spans long past are deleted.
-- Append-only; every statement is safe to run again.

CREATE TABLE IF NOT EXISTS kmc_send_counts (
  pace_key VARCHAR(300) NOT NULL COMMENT 'domain:<name>, smtp, sms:<account>',
  window_start DATETIME(3) NOT NULL COMMENT 'the start of the span the count is for',
  sent INT NOT NULL DEFAULT 0 COMMENT 'places taken in the span by all workers',
  PRIMARY KEY (pace_key, window_start),
  KEY kmc_send_counts_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A branch's own mail identity, beside the global settings: the domain its
-- notices' return paths (VERP) use, and the DKIM key its sending domain signs
-- with (the private key is never shown back on the settings page).
ALTER TABLE kmc_branch_settings
  ADD COLUMN IF NOT EXISTS bounce_domain VARCHAR(253) NULL COMMENT 'VERP return paths of this branch; else KMC_BOUNCE_DOMAIN',
  ADD COLUMN IF NOT EXISTS dkim_domain VARCHAR(253) NULL COMMENT 'the domain that signs (d=): the sender''s domain or a parent of it',
  ADD COLUMN IF NOT EXISTS dkim_selector VARCHAR(63) NULL COMMENT 'published at SELECTOR._domainkey.DOMAIN',
  ADD COLUMN IF NOT EXISTS dkim_private_key TEXT NULL COMMENT 'PEM; never shown back in full';
