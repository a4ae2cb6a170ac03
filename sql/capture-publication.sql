-- The publication logical capture decodes (EMBEDSYNC_CAPTURE=logical): the table's inserts and updates, and of
-- each row only its id (a column list), so the daemon reads a few bytes per change whatever the row holds.
-- Deletes and truncates keep their statement-level triggers (they remove queue entries and chunks in the
-- application's transaction). publish_via_partition_root: a partitioned table's rows arrive as the parent's.
CREATE PUBLICATION {{name:capture}} FOR TABLE {{table}} ({{id}})
  WITH (publish = 'insert, update', publish_via_partition_root = true)
