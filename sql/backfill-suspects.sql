-- What the backfill of source $1 to model $2 left in hand when a run ended (in_hand, ends) and the rows it skips
-- (dead-lettered for ending runs alone). No row: nothing in hand, nothing skipped.
SELECT in_hand, ends, skipped FROM embedsync.backfill_suspects WHERE source = $1 AND checksum = $2
