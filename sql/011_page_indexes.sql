-- Indexes for the staff pages at any size: each list a page shows is read
-- along an index in the order it is shown, a page at a time from where the
-- last one ended (keyset paging), so page 1 and page 10,000 cost the same.
-- Append-only; every statement is safe to run again.

-- The archive filtered by status and the staff queue (failed, missing
-- contact, bounced), newest first; the dashboard's reasons of failure.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_status_created (status, created_at);

-- The archive filtered by type, or by channel, newest first: without these a
-- rare type or channel walked the whole table to fill a page.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_type_created (message_type, created_at);
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_channel_created (channel, created_at);

-- The dashboard counts the last 30 days by day, channel and status from this
-- index alone, without reading the messages. With the id second it also gives
-- the lists' order (creation time, then id), so it takes the place of the
-- index on creation time alone.
ALTER TABLE kmc_messages ADD INDEX IF NOT EXISTS kmc_messages_created_counts (created_at, id, channel, status);
ALTER TABLE kmc_messages DROP INDEX IF EXISTS kmc_messages_created;
