-- The notice engine: every message type, the full rule matrix, routines and
-- their schedules. Each statement is safe to run again.

-- Rules: a payment term for bills, and where an imported rule came from, so
-- importing Koha's set-up twice makes nothing twice.
ALTER TABLE kmc_rules
  ADD COLUMN IF NOT EXISTS payment_term_days INT NOT NULL DEFAULT 0 COMMENT 'replacement bills: days the patron has to pay',
  ADD COLUMN IF NOT EXISTS import_key VARCHAR(120) NULL COMMENT 'set on rules made by kmc rules import-koha: which Koha rule and level',
  ADD COLUMN IF NOT EXISTS note VARCHAR(255) NULL COMMENT 'why the rule exists, in words staff wrote or the import made';

ALTER TABLE kmc_rules ADD UNIQUE KEY IF NOT EXISTS kmc_rules_import (import_key);

-- Messages: the plain data each was rendered from (so it can be rendered
-- again for another channel), the library day it was made for (later
-- overdue levels count from it), and the routine that made it.
ALTER TABLE kmc_messages
  ADD COLUMN IF NOT EXISTS render_data LONGTEXT NULL COMMENT 'JSON: the plain template data, for rendering again by another channel',
  ADD COLUMN IF NOT EXISTS notice_date DATE NULL COMMENT 'the library day the notice was made for',
  ADD COLUMN IF NOT EXISTS routine_id INT UNSIGNED NULL COMMENT 'the routine whose run made it; NULL for runs by hand and staff messages';

-- Routines: a named, scheduled run of one message type with its criteria.
CREATE TABLE IF NOT EXISTS kmc_routines (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL,
  message_type VARCHAR(32) NOT NULL,
  level TINYINT UNSIGNED NULL COMMENT 'overdue: one level only; NULL = every level that is due',
  criteria LONGTEXT NULL COMMENT 'JSON: {"branches":[],"categories":[],"itemtypes":[]}; an empty list means all',
  schedule VARCHAR(120) NULL COMMENT 'cron (minute hour day month weekday) in the library time zone; NULL = by hand only',
  needs_approval TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1 = messages are made as proposed and wait for staff',
  message_to_patrons TEXT NULL COMMENT 'a general text that goes into every message of the run except SMS',
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY kmc_routines_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Baseline rules for every message type and overdue level. Levels 1-3 are
-- used out of the box; 4 and 5 are there to be switched on.
INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'overdue', 2, 1, 14, 'email,print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'overdue' AND level = 2 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'overdue', 3, 1, 14, 'email,print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'overdue' AND level = 3 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'overdue', 4, 0, 14, 'email,print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'overdue' AND level = 4 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'overdue', 5, 0, 14, 'print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'overdue' AND level = 5 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'replacement_bill', 0, 1, 14, 'print,email', 1, 30, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'replacement_bill' AND level = 0 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'predue', 0, 1, 2, 'email,sms', 0, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'predue' AND level = 0 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'hold_waiting', 0, 1, 0, 'email,sms,print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'hold_waiting' AND level = 0 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'hold_reminder', 0, 1, 2, 'email,sms', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'hold_reminder' AND level = 0 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'welcome', 0, 1, 0, 'email,print', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'welcome' AND level = 0 AND is_baseline = 1);

INSERT INTO kmc_rules (message_type, level, is_used, delay_days, channels, digest, payment_term_days, is_baseline)
SELECT 'staff_message', 0, 1, 0, 'email,sms', 1, 0, 1 FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM kmc_rules WHERE message_type = 'staff_message' AND level = 0 AND is_baseline = 1);

-- Which branch's rules apply to a loan: the issuing branch unless set otherwise.
INSERT IGNORE INTO kmc_settings (name, value) VALUES ('rules_branch', 'issuing');

-- Standard routines, one per scheduled message type, usable at once.
INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Hold pickup notices', 'hold_waiting', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '0 8-20 * * *', 0, 1);

INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Hold pickup reminders', 'hold_reminder', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '0 9 * * *', 0, 1);

INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Pre-due reminders', 'predue', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '0 6 * * *', 0, 1);

INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Overdue notices', 'overdue', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '30 6 * * *', 0, 1);

INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Replacement bills', 'replacement_bill', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '0 7 * * *', 0, 1);

INSERT IGNORE INTO kmc_routines (name, message_type, level, criteria, schedule, needs_approval, enabled)
VALUES ('Welcome messages', 'welcome', NULL, '{"branches":[],"categories":[],"itemtypes":[]}', '0 10 * * *', 0, 1);
