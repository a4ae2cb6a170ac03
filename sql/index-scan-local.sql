-- Pins this transaction's plans to ordered index scans (SET LOCAL of three planner settings): the watch's pages
-- below a bulk load (watch-new-rows.sql) must walk the new-rows index down from where the last page ended. Right
-- after a load the statistics do not know the table's new rows yet, and a plan that scans the table, or sorts a
-- bitmap of every entry below, would read the whole backlog once per page.
SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)
