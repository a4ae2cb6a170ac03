-- Rows of the source, the backfill's progress total. Exact, not the planner's estimate: it runs once per
-- backfill pass, and the progress bar should end at 100%.
SELECT count(*) AS n FROM {{table}}
