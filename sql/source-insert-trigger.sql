-- The INSERT trigger, for a table whose new rows the daemons' watch cannot find by their ids alone (ids not from
-- a sequence: a new uuid sorts anywhere in the new-rows index), or that has no new-rows index. The function is
-- source-install.sql's; migrate installs the trigger, or drops it (source-insert-trigger-drop.sql) where the
-- watch takes inserts, so a table set up by an earlier version loses the cost on upgrade.
CREATE OR REPLACE TRIGGER {{name:ins}} AFTER INSERT ON {{table}}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:ins}}()
