-- Delivery: SMS accounts per message, and delivery receipts that arrive early.
-- Append-only; every statement is safe to run again.

-- Which SMS account (system_id@host:port) accepted the message. Message ids are
-- unique per SMSC account only, so a receipt is matched on both.
ALTER TABLE kmc_messages ADD COLUMN IF NOT EXISTS provider_account VARCHAR(64) NULL COMMENT 'SMS account that gave provider_id' AFTER provider_id;

-- A receipt can reach us before the worker has stored `sent` and the message
-- id the SMSC gave (the SMSC answers, sends the receipt, and our write is still
-- on its way). Such a receipt waits here and is applied when `sent` is stored.
CREATE TABLE IF NOT EXISTS kmc_sms_receipts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  provider_id VARCHAR(128) NOT NULL COMMENT 'receipted message id as the SMSC gave it',
  provider_account VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'SMS account the receipt came in on',
  state VARCHAR(16) NOT NULL COMMENT 'delivered, failed, other',
  stat VARCHAR(32) NOT NULL COMMENT 'the SMSC word: DELIVRD, UNDELIV, EXPIRED ...',
  err VARCHAR(16) NULL,
  received_at DATETIME(3) NOT NULL,
  applied_at DATETIME(3) NULL COMMENT 'when it moved its message; NULL while it waits',
  message_id BIGINT UNSIGNED NULL,
  PRIMARY KEY (id),
  KEY kmc_sms_receipts_waiting (provider_id, applied_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Claiming takes the longest-due messages first and must stop after the
-- batch: a scan in this order locks only the rows it takes, so concurrent
-- workers skip each other's rows instead of all of them.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_claim (status, next_attempt_at, id);
