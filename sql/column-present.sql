-- Whether table $1 has column $2 (not dropped): migrate's plan asks before naming a column it may not have.
SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped
