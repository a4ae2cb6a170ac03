-- `embedsync remove` of the table the unqualified embedsync.similar_to / search / hybrid_search serve
-- (embedsync.search_default): they go with it, and the next table migrate sets up claims the names.
DROP FUNCTION IF EXISTS embedsync.similar_to, embedsync.search, embedsync.hybrid_search
