-- How far a migration's backfill has got, for status (rendered with the shadow column names): rows already
-- holding target model $1's vector, of all rows. A full scan: status only (a small table, or --exact; row-coverage-estimate otherwise), never
-- the daemon.
SELECT count(*) FILTER (WHERE {{checksum}} = $1) AS done, count(*) AS total FROM {{table}}
