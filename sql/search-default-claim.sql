-- Makes source $1 the one the unqualified embedsync.similar_to / search serve, unless a table claimed them
-- first: DO NOTHING, so a second table's migrate never re-points them under the first table's readers.
INSERT INTO embedsync.search_default (source) VALUES ($1) ON CONFLICT DO NOTHING
