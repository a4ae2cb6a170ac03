-- How far a migration's backfill has got, for status (rendered with the shadow column names): rows already
-- holding target model $1's vector, of all rows. A full scan: status only, on a small table or with --exact
-- (row-coverage-estimate otherwise); never the daemon.
SELECT count(*) FILTER (WHERE {{checksum}} = $1) AS done, count(*) AS total FROM {{table}}
