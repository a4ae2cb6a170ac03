-- The source the unqualified search functions serve (a single row, written once by search-default-claim).
SELECT source FROM embedsync.search_default
