-- Gives a rebuilt index the usual name once the old one is dropped. A rename takes an ACCESS EXCLUSIVE
-- lock on the table, so callers run it under short lock timeouts (short-lock.ts) and retry.
ALTER INDEX {{relation}} RENAME TO {{index}}
