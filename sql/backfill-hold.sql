-- The rows $3 the backfill of source $1 to model $2 is about to encode (NULL once written), with the runs that
-- already ended holding exactly them ($4). Written before the encode and committed on its own: a run that ends
-- meanwhile leaves them here for the next run to find.
INSERT INTO embedsync.backfill_suspects AS b (source, checksum, in_hand, ends) VALUES ($1, $2, $3, $4)
ON CONFLICT (source, checksum) DO UPDATE SET in_hand = excluded.in_hand, ends = excluded.ends
