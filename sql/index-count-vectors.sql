-- Rows with a vector in {{column}} (the configured or a shadow embedding column): what an index is trained on
-- and holds. An exact count, not the planner's estimate: the build/rebuild thresholds compare against it.
SELECT count(*) AS n FROM {{table}} WHERE {{column}} IS NOT NULL
