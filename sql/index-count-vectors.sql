-- Rows with a vector in {{column}} (the configured or a shadow embedding column): what an index is trained on
-- and holds. An exact count, so a scan of the table: run only when the planner's statistics and the stored
-- count leave a build/rebuild threshold in doubt, and before a build (src/db/vector-count.ts).
SELECT count(*) AS n FROM {{table}} WHERE {{column}} IS NOT NULL
