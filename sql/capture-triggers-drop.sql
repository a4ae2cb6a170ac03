-- Logical capture takes inserts and updates (a partition move is an insert in the WAL too): their triggers go
-- (the DELETE and TRUNCATE ones stay).
DROP TRIGGER IF EXISTS {{name:ins}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:upd}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:mov}} ON {{table}}
