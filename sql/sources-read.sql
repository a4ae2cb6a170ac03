-- Every table migrate recorded, with the settings it was set up with (embedsync.sources): what a daemon
-- serving several tables starts one sync unit for. Ordered, so units start and report in a stable order.
SELECT * FROM embedsync.sources ORDER BY source
