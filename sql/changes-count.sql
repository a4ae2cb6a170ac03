-- The entries of a source's change log (changes-drain.sql moves them into the queue every watch interval), counted
-- up to $1 + 1 so that status stays fast after a bulk UPDATE of millions of rows.
SELECT count(*)::int AS n FROM (SELECT 1 FROM embedsync.{{name:changes}} LIMIT $1 + 1) c
