-- The new-rows index: the ids of rows no model has embedded yet (no checksum). An INSERT puts its rows here in
-- the application's own transaction, which is what lets a table with sequence ids do without an INSERT trigger:
-- the daemons read the newest entries (watch-new-rows.sql). No model checksum in the predicate, so unlike the
-- sweep index it survives model changes. The daemon's write sets the checksum, so an embedded row's new version
-- falls outside it (that write changes an indexed column anyway: no HOT update is lost), and an UPDATE of the
-- text does not touch it. {{concurrently}}: CONCURRENTLY on plain tables, empty on partitioned ones.
CREATE INDEX {{concurrently}} IF NOT EXISTS {{name:embedsync_new}} ON {{table}} ({{id}})
  WHERE {{checksum}} IS NULL
