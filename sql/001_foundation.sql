-- The sidecar's own tables. Koha's tables are only ever read.
-- Append-only: later changes go into new files, never into this one.

CREATE TABLE IF NOT EXISTS kmc_rules (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_type VARCHAR(32) NOT NULL,
  level TINYINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'overdue level 1-5; 0 for types without levels',
  branchcode VARCHAR(10) NULL COMMENT 'NULL = every branch',
  categorycode VARCHAR(10) NULL COMMENT 'NULL = every patron category',
  itemtype VARCHAR(10) NULL COMMENT 'NULL = every item type',
  valid_from DATE NULL,
  valid_to DATE NULL,
  is_used TINYINT(1) NOT NULL DEFAULT 1 COMMENT '0 = this type or level is not sent (999 in older systems)',
  delay_days INT NOT NULL DEFAULT 0,
  channels VARCHAR(64) NOT NULL DEFAULT 'email,print' COMMENT 'allowed channels in order of preference',
  send_all_channels TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1 = every allowed channel, not the first usable one',
  template_code VARCHAR(64) NULL,
  fee_per_notice DECIMAL(10,2) NOT NULL DEFAULT 0,
  fee_per_item DECIMAL(10,2) NOT NULL DEFAULT 0,
  digest TINYINT(1) NOT NULL DEFAULT 1 COMMENT '1 = one message per patron, 0 = one per loan',
  is_baseline TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY kmc_rules_type (message_type, level)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS kmc_runs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  job VARCHAR(64) NOT NULL COMMENT 'e.g. overdue, predue, manual:overdue',
  fire_time DATETIME NOT NULL COMMENT 'the scheduled instant; unique per job so one fire runs once',
  run_date DATE NOT NULL COMMENT 'the library day the run generates notices for',
  message_type VARCHAR(32) NULL,
  branchcode VARCHAR(10) NULL,
  dry_run TINYINT(1) NOT NULL DEFAULT 0,
  status VARCHAR(16) NOT NULL DEFAULT 'running' COMMENT 'running, finished, failed',
  started_at DATETIME(3) NOT NULL,
  finished_at DATETIME(3) NULL,
  started_by VARCHAR(64) NULL COMMENT 'scheduler, cli, or a staff borrowernumber',
  stats LONGTEXT NULL COMMENT 'JSON: created, skipped, byChannel, byStatus',
  error TEXT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY kmc_runs_fire (job, fire_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Queue and archive in one: a message never moves, only its status changes.
CREATE TABLE IF NOT EXISTS kmc_messages (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  idempotency_key VARCHAR(191) NOT NULL COMMENT 'type, level, patron and what it covers; a rerun never makes it twice',
  message_type VARCHAR(32) NOT NULL,
  level TINYINT UNSIGNED NOT NULL DEFAULT 0,
  borrowernumber INT NOT NULL,
  branchcode VARCHAR(10) NULL COMMENT 'the branch that sends it',
  channel VARCHAR(16) NOT NULL,
  status VARCHAR(20) NOT NULL,
  status_reason VARCHAR(255) NULL,
  to_address VARCHAR(320) NULL,
  from_address VARCHAR(320) NULL,
  reply_to VARCHAR(320) NULL,
  lang VARCHAR(25) NULL,
  subject VARCHAR(255) NULL,
  body_text MEDIUMTEXT NULL,
  body_html MEDIUMTEXT NULL,
  fee DECIMAL(10,2) NOT NULL DEFAULT 0,
  run_id BIGINT UNSIGNED NULL,
  rule_id INT UNSIGNED NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(3) NULL,
  lease_until DATETIME(3) NULL,
  claimed_by VARCHAR(64) NULL,
  message_id_header VARCHAR(255) NULL COMMENT 'Message-ID of the e-mail as sent',
  provider_id VARCHAR(128) NULL COMMENT 'id the SMTP server or SMSC gave it',
  last_reply TEXT NULL COMMENT 'the last answer of the server, as it came',
  created_at DATETIME(3) NOT NULL,
  first_sent_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  anonymised_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY kmc_messages_idem (idempotency_key),
  KEY kmc_messages_due (status, channel, next_attempt_at),
  KEY kmc_messages_patron (borrowernumber, created_at),
  KEY kmc_messages_provider (provider_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What each message covers. coverage_key makes one notice per loan and level
-- a database fact: a second level-1 notice for the same loan cannot be stored.
CREATE TABLE IF NOT EXISTS kmc_message_items (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL,
  coverage_key VARCHAR(120) NULL COMMENT 'type:level:issue:N or type:level:hold:N; NULL for resends',
  issue_id INT NULL,
  reserve_id INT NULL,
  itemnumber INT NULL,
  biblionumber INT NULL,
  barcode VARCHAR(20) NULL,
  title TEXT NULL,
  author TEXT NULL,
  date_due DATETIME NULL,
  fee DECIMAL(10,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY kmc_message_items_cover (coverage_key),
  KEY kmc_message_items_msg (message_id),
  KEY kmc_message_items_issue (issue_id),
  CONSTRAINT kmc_message_items_msg_fk FOREIGN KEY (message_id) REFERENCES kmc_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every status change with its reason: the delivery log that settles disputes.
CREATE TABLE IF NOT EXISTS kmc_message_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL,
  at DATETIME(3) NOT NULL,
  status VARCHAR(20) NOT NULL,
  detail TEXT NULL,
  actor VARCHAR(64) NULL COMMENT 'worker id, scheduler, cli, or staff borrowernumber',
  PRIMARY KEY (id),
  KEY kmc_message_events_msg (message_id, at),
  CONSTRAINT kmc_message_events_msg_fk FOREIGN KEY (message_id) REFERENCES kmc_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Staff-edited notice templates; the shipped defaults live in templates/notices.
CREATE TABLE IF NOT EXISTS kmc_templates (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_type VARCHAR(32) NOT NULL,
  channel VARCHAR(16) NOT NULL,
  lang VARCHAR(25) NOT NULL DEFAULT 'default',
  branchcode VARCHAR(10) NOT NULL DEFAULT '' COMMENT 'empty = every branch',
  subject TEXT NULL,
  body_text MEDIUMTEXT NOT NULL,
  body_html MEDIUMTEXT NULL,
  updated_by INT NULL,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY kmc_templates_key (message_type, channel, lang, branchcode)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-branch settings edited on the sidecar's pages; the environment gives defaults.
CREATE TABLE IF NOT EXISTS kmc_branch_settings (
  branchcode VARCHAR(10) NOT NULL,
  sender_email VARCHAR(320) NULL,
  reply_to VARCHAR(320) NULL,
  letter_address TEXT NULL,
  default_lang VARCHAR(25) NULL,
  sms_enabled TINYINT(1) NOT NULL DEFAULT 0,
  sms_url VARCHAR(255) NULL,
  sms_sender VARCHAR(20) NULL,
  quiet_from TIME NULL,
  quiet_to TIME NULL,
  excluded_from_automated_runs TINYINT(1) NOT NULL DEFAULT 0,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (branchcode)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS kmc_settings (
  name VARCHAR(64) NOT NULL,
  value TEXT NULL,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The verification state of each patron's e-mail address.
CREATE TABLE IF NOT EXISTS kmc_email_verifications (
  borrowernumber INT NOT NULL,
  email VARCHAR(320) NOT NULL,
  state VARCHAR(16) NOT NULL COMMENT 'verified, pending, expired, exempt',
  token_hash CHAR(64) NULL,
  sent_at DATETIME(3) NULL,
  expires_at DATETIME(3) NULL,
  verified_at DATETIME(3) NULL,
  verified_by VARCHAR(64) NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (borrowernumber),
  KEY kmc_email_verifications_state (state, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Baseline rule: covers every branch, category and item type; cannot be removed.
INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, is_baseline)
SELECT 'overdue', 1, 1, 7, 'email,print', 1, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'overdue' AND level = 1 AND is_baseline = 1);
