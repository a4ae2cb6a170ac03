-- The model state of source $1: the recorded model and a model migration under way. SELECT * so a database
-- still on the first schema (no migration columns yet) reads as "no migration", for doctor and migrate alike.
SELECT * FROM embedsync.state WHERE source = $1
