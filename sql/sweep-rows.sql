-- Creates source $1's row for each sweep pass in $2 (ON CONFLICT: migrate and every daemon run it, and an
-- existing row keeps its position and history). The rows are what sweep-claim locks, so they must exist first.
INSERT INTO embedsync.sweep (source, pass) SELECT $1, p FROM unnest($2::text[]) p ON CONFLICT (source, pass) DO NOTHING
