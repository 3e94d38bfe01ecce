-- E-mail verification: what the scan needs to notice a changed address
-- cheaply, to make every link single-use, and to slow down guessing.

-- source_hash: SHA-256 of Koha's three address columns and the patron's
-- category as last seen, so a scan asks the database only for patrons whose
-- addresses (or category) changed.
-- token_version: bumped for each new link; part of the verification
-- message's idempotency key, so an address changed twice gets two mails.
-- message_id: the verification message queued for the current link (NULL
-- until it is stored; a scan queues it again if the sidecar stopped between).
ALTER TABLE kmc_email_verifications
  MODIFY COLUMN state VARCHAR(16) NOT NULL COMMENT 'verified, pending, expired, exempt, none (no usable address)',
  ADD COLUMN IF NOT EXISTS source_hash CHAR(64) NULL COMMENT 'SHA-256 of borrowers.email, emailpro, B_email, categorycode as last scanned',
  ADD COLUMN IF NOT EXISTS token_version INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'bumped with each new link',
  ADD COLUMN IF NOT EXISTS message_id BIGINT UNSIGNED NULL COMMENT 'the verification message of the current link',
  ADD COLUMN IF NOT EXISTS lang VARCHAR(25) NULL COMMENT 'language of the verification mail and page',
  ADD COLUMN IF NOT EXISTS used_at DATETIME(3) NULL COMMENT 'when the current link was used',
  ADD COLUMN IF NOT EXISTS link_in_archive TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1 while the stored verification mail still holds the link',
  ADD COLUMN IF NOT EXISTS created_at DATETIME(3) NULL;

ALTER TABLE kmc_email_verifications ADD INDEX IF NOT EXISTS kmc_email_verifications_token (token_hash);

-- Stored verification mails whose link is still in their text, found without
-- reading the whole table: the link is removed once the mail has left.
ALTER TABLE kmc_email_verifications ADD INDEX IF NOT EXISTS kmc_email_verifications_link (link_in_archive);

-- Failed look-ups on the public verification page, per client, so a burst of
-- wrong links is refused (429) across restarts and across sidecars. The
-- client address is kept only as an HMAC keyed with KMC_SECRET.
CREATE TABLE IF NOT EXISTS kmc_verification_failures (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  client_hash CHAR(64) NOT NULL,
  at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY kmc_verification_failures_client (client_hash, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
