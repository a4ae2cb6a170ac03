-- Inserts are the watch's (source-insert-trigger.sql says when): the INSERT trigger goes.
DROP TRIGGER IF EXISTS {{name:ins}} ON {{table}}
