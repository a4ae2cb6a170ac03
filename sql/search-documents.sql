-- The documents of the rows a search returned ($1: their ids as text), for `embedsync search` to print next
-- to the scores. The = ANY on the cast array lets the primary key find them.
SELECT t.{{id}}::text AS id, {{document:t}} AS document FROM {{table}} t WHERE t.{{id}} = ANY ($1::text[]::{{id_type}}[])
