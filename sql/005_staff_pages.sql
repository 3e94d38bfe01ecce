-- Staff pages: sign-in sessions, single-use launch nonces, sign-in failures
-- (for rate limiting), the audit record, the review of runs that wait for
-- approval, and the message queue's "handled" marks.

-- A staff member signed in. The cookie holds a random value; only its SHA-256
-- is stored, so a copy of this table signs no one in.
CREATE TABLE IF NOT EXISTS kmc_sessions (
  id_hash CHAR(64) NOT NULL,
  borrowernumber INT NOT NULL,
  csrf_token CHAR(64) NOT NULL COMMENT 'synchronizer token every form of this session carries',
  lang VARCHAR(8) NULL COMMENT 'language of the pages the staff member chose',
  via VARCHAR(16) NOT NULL COMMENT 'launch (Koha plugin) or password',
  ip VARCHAR(45) NULL,
  created_at DATETIME(3) NOT NULL,
  last_seen_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL COMMENT 'absolute end, however active the session is',
  PRIMARY KEY (id_hash),
  KEY kmc_sessions_expiry (expires_at),
  KEY kmc_sessions_staff (borrowernumber)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Launch tokens are single use: a nonce is remembered until its token expires,
-- here rather than in memory, so several sidecars agree.
CREATE TABLE IF NOT EXISTS kmc_launch_nonces (
  nonce CHAR(32) NOT NULL,
  borrowernumber INT NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  used_at DATETIME(3) NOT NULL,
  PRIMARY KEY (nonce),
  KEY kmc_launch_nonces_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed password sign-ins, counted per address and per user name to slow down guessing.
CREATE TABLE IF NOT EXISTS kmc_signin_failures (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  at DATETIME(3) NOT NULL,
  ip VARCHAR(45) NULL,
  userid VARCHAR(75) NULL,
  PRIMARY KEY (id),
  KEY kmc_signin_failures_ip (ip, at),
  KEY kmc_signin_failures_user (userid, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who did what on the staff pages.
CREATE TABLE IF NOT EXISTS kmc_audit (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  at DATETIME(3) NOT NULL,
  borrowernumber INT NULL COMMENT 'the staff member; NULL when no one was signed in',
  action VARCHAR(64) NOT NULL,
  object_type VARCHAR(32) NULL,
  object_id VARCHAR(64) NULL,
  detail TEXT NULL COMMENT 'JSON',
  ip VARCHAR(45) NULL,
  PRIMARY KEY (id),
  KEY kmc_audit_at (at),
  KEY kmc_audit_staff (borrowernumber, at),
  KEY kmc_audit_object (object_type, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What staff changed in a run before approving it: a patron's message left
-- out, or sent by another channel. Applied when the run is approved.
CREATE TABLE IF NOT EXISTS kmc_review_messages (
  message_id BIGINT UNSIGNED NOT NULL,
  run_id BIGINT UNSIGNED NOT NULL,
  excluded TINYINT(1) NOT NULL DEFAULT 0,
  send_as VARCHAR(16) NULL,
  updated_by INT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (message_id),
  KEY kmc_review_messages_run (run_id),
  CONSTRAINT kmc_review_messages_fk FOREIGN KEY (message_id) REFERENCES kmc_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Items staff left out of their message (a row here means: leave it out).
CREATE TABLE IF NOT EXISTS kmc_review_items (
  message_item_id BIGINT UNSIGNED NOT NULL,
  message_id BIGINT UNSIGNED NOT NULL,
  run_id BIGINT UNSIGNED NOT NULL,
  updated_by INT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (message_item_id),
  KEY kmc_review_items_run (run_id),
  CONSTRAINT kmc_review_items_fk FOREIGN KEY (message_id) REFERENCES kmc_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Approval of a run that waited for staff: who, when, what it queued.
CREATE TABLE IF NOT EXISTS kmc_run_approvals (
  run_id BIGINT UNSIGNED NOT NULL,
  approved_by INT NOT NULL,
  approved_at DATETIME(3) NOT NULL,
  queued INT NOT NULL DEFAULT 0,
  cancelled INT NOT NULL DEFAULT 0,
  items_removed INT NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed and missing-contact messages staff have dealt with leave the queue
-- list; the message keeps its status, which stays true.
CREATE TABLE IF NOT EXISTS kmc_queue_handled (
  message_id BIGINT UNSIGNED NOT NULL,
  handled_by INT NOT NULL,
  handled_at DATETIME(3) NOT NULL,
  how VARCHAR(32) NOT NULL COMMENT 'handled, resent',
  resent_as BIGINT UNSIGNED NULL COMMENT 'the new message, when it was sent again by another channel',
  PRIMARY KEY (message_id),
  CONSTRAINT kmc_queue_handled_fk FOREIGN KEY (message_id) REFERENCES kmc_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
