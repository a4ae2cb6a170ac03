-- One chunk of a vector type switch (EMBEDSYNC_VECTOR_TYPE vector <-> halfvec) with the model unchanged: the
-- next $2 rows after id $1 (NULL to start) in key order get the main columns' vector ({{from_embedding}}, cast
-- to the shadow column's type by assignment), checksum and text hash copied into the shadow columns, where the
-- main vector is model $3's and the shadow one is not yet. No row is encoded again: the re-encode pass that
-- follows (backfill-chunk) finds only rows whose main vector was missing or stale. Keyset chunks keep each
-- statement short; a rerun skips what is copied. Returns the chunk's last id (NULL: done) and the rows copied.
WITH page AS (
  SELECT t.{{id}} AS id FROM {{table}} t
  {{keyset_page:t,$1,$2}}
), copied AS (
  UPDATE {{table}} t SET {{embedding}} = t.{{from_embedding}}, {{checksum}} = t.{{from_checksum}}, {{text_hash}} = t.{{from_text_hash}}
  FROM page p
  -- The = ANY makes the primary key drive the plan (a hash join to a scan of the whole table per chunk is quadratic).
  WHERE t.{{id}} = ANY (ARRAY(SELECT pp.id FROM page pp)) AND t.{{id}} = p.id AND t.{{from_checksum}} = $3 AND t.{{checksum}} IS DISTINCT FROM $3
  RETURNING 1
)
SELECT (SELECT p.id::text FROM page p ORDER BY p.id DESC LIMIT 1) AS last, (SELECT count(*)::int FROM copied) AS copied
