-- Templates brought along from Koha's notice letters (kmc templates import-koha):
-- which letters a template was made from, and whether staff edited it here since.
-- A template with koha_letters set and not edited since may be brought up to date by
-- the next import; one staff edited (or wrote) is never overwritten by it.
-- Append-only; every statement is safe to run again.

ALTER TABLE kmc_templates
  ADD COLUMN IF NOT EXISTS koha_letters VARCHAR(255) NULL COMMENT 'the Koha letters (module/code) this template was imported from; NULL = written here',
  ADD COLUMN IF NOT EXISTS imported_at DATETIME NULL COMMENT 'when the import last wrote this template',
  ADD COLUMN IF NOT EXISTS edited_since_import TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1 once staff saved the template after it was imported';
