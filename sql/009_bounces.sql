-- Bounces: every report that came back to a notice's return path and named
-- one of our messages, and the state of each patron's e-mail address that
-- bounces have changed. A state belongs to the address as Koha had it: when
-- the address in Koha changes, the new one starts fresh (no row).
-- Append-only; every statement is safe to run again.

CREATE TABLE IF NOT EXISTS kmc_bounces (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL COMMENT 'the notice the return path named',
  borrowernumber INT NOT NULL,
  address VARCHAR(254) NOT NULL COMMENT 'the address the notice went to, lower-case',
  kind VARCHAR(16) NOT NULL COMMENT 'hard, soft, complaint',
  status_code VARCHAR(16) NULL COMMENT 'enhanced status code such as 5.1.1',
  reason VARCHAR(32) NULL COMMENT 'one word: userunknown, mailboxfull, ...',
  diagnostic VARCHAR(500) NULL COMMENT 'the remote server''s words',
  received_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY kmc_bounces_address (borrowernumber, address, received_at),
  KEY kmc_bounces_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS kmc_address_states (
  borrowernumber INT NOT NULL,
  address VARCHAR(254) NOT NULL COMMENT 'lower-case, as it was in Koha when it bounced',
  state VARCHAR(16) NOT NULL COMMENT 'usable, undeliverable, complained',
  reason VARCHAR(255) NULL COMMENT 'why, in words staff understand',
  changed_at DATETIME(3) NOT NULL,
  counted_from DATETIME(3) NULL COMMENT 'soft bounces before this time no longer count (set when staff clear the state)',
  cleared_by INT NULL COMMENT 'the staff member who last cleared it',
  PRIMARY KEY (borrowernumber, address),
  KEY kmc_address_states_changed (state, changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
