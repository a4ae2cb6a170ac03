-- Records that source $1's tsvector column $2 holds every row's document in configuration $3 (after a fill).
INSERT INTO embedsync.fulltext (source, column_name, config) VALUES ($1, $2, $3)
ON CONFLICT (source) DO UPDATE SET column_name = EXCLUDED.column_name, config = EXCLUDED.config, filled_at = now()
