-- Records model $2 ($3 checksum, $4 dimensions) for source $1. The WHERE leaves an unchanged row alone, so
-- a rerun of migrate neither bumps updated_at nor wakes every daemon (the state trigger announces changes).
INSERT INTO embedsync.state (source, model, model_checksum, dimensions) VALUES ($1, $2, $3, $4)
ON CONFLICT (source) DO UPDATE SET model = excluded.model, model_checksum = excluded.model_checksum,
  dimensions = excluded.dimensions, updated_at = now()
WHERE (state.model, state.model_checksum, state.dimensions) IS DISTINCT FROM (excluded.model, excluded.model_checksum, excluded.dimensions)
