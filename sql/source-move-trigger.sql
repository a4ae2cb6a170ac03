-- Partitioned tables only (migrate installs it with source-install.sql): an UPDATE that moves a row to another
-- partition runs as a DELETE and an INSERT, which fire no row-level UPDATE trigger (nor the statement-level INSERT
-- and DELETE ones), so a move that also changes the document would go unseen. The moved row arrives in its new
-- partition with the embedded_at it had, while a row the application inserts has none (the new-rows index or the
-- INSERT trigger take those): an insert with an embedded_at is logged, as an update is. The daemon re-reads it
-- and encodes it only where its text no longer matches its vector's (the text hash), so a move that left the text
-- alone costs a read. embedded_at, not the checksum: a model migration's swap drops and renames the checksum
-- column, which a trigger's WHEN would pin; embedded_at is shared by both sets of columns and stays.
-- Its own function (as source-install.sql's, SECURITY DEFINER without a search_path): the UPDATE trigger's compares
-- OLD with NEW, and a test of TG_OP there would be paid by every text update.
CREATE OR REPLACE FUNCTION embedsync.{{name:mov}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  INSERT INTO embedsync.{{name:changes}} (id) VALUES (NEW.{{id}});
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER {{name:mov}} AFTER INSERT ON {{table}}
  FOR EACH ROW WHEN (NEW.{{embedded_at}} IS NOT NULL) EXECUTE FUNCTION embedsync.{{name:mov}}()
