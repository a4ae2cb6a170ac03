-- Logical capture takes inserts and updates: their triggers go (the DELETE and TRUNCATE ones stay).
DROP TRIGGER IF EXISTS {{name:ins}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:upd}} ON {{table}}
