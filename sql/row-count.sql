-- Rows of the source, the progress total of migrate's enqueue pass and of a model migration's backfill. Exact,
-- not the planner's estimate: it runs once per pass, and the progress bar should end at 100%.
SELECT count(*) AS n FROM {{table}}
