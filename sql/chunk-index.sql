-- The approximate index of one model's chunks (EMBEDSYNC_CHUNKING=tokens): hnsw over the expression
-- embedding::<type>(<dimensions>), partial on that model's checksum. The chunk table's column has no fixed
-- dimension (a model change writes the new model's chunks beside the old ones), and pgvector indexes only a
-- fixed dimension: the cast gives one, the predicate keeps the other model's chunks out (pgvector's way for
-- mixed dimensions). hnsw: no training, follows inserts, suits a table that grows with its rows. The chunk
-- search functions (chunk-search.sql and the others) are rendered with the same expression and the same
-- checksum literal, so the planner matches both. CONCURRENTLY: the daemons keep writing chunks meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {{index}} ON {{chunk_table}}
  USING hnsw ((embedding::{{vector_type}}({{dimensions}})) {{vector_type}}_cosine_ops)
  WHERE model_checksum = {{model_checksum}}
