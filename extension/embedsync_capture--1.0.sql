\echo Use "CREATE EXTENSION embedsync_capture" to load this file. \quit

-- Fired by the UPDATE trigger embedsync migrate installs (sql/source-install.sql). Not PUBLIC: attaching it to a
-- table writes into embedsync's change logs, which only the role that runs migrate should do.
CREATE FUNCTION capture_update() RETURNS trigger
  AS 'MODULE_PATHNAME', 'embedsync_capture_update' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION capture_update() FROM PUBLIC;
