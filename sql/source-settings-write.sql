-- Records the settings source $1 was migrated with. The WHERE leaves an unchanged row alone, so a rerun of
-- migrate neither bumps updated_at nor wakes every daemon serving all tables (the row's trigger announces it).
INSERT INTO embedsync.sources AS s (source, id_column, text_columns, document_sql, embedding_column, checksum_column,
  embedded_at_column, text_hash_column, model, model_checksum, dimensions, index_kind, index_growth_factor,
  index_min_rows, index_build_memory, bulk_rows, vector_type, fulltext_column, text_search_config, chunking, chunk_tokens, chunk_overlap)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
ON CONFLICT (source) DO UPDATE SET id_column = excluded.id_column, text_columns = excluded.text_columns,
  document_sql = excluded.document_sql, embedding_column = excluded.embedding_column,
  checksum_column = excluded.checksum_column, embedded_at_column = excluded.embedded_at_column,
  text_hash_column = excluded.text_hash_column, model = excluded.model, model_checksum = excluded.model_checksum,
  dimensions = excluded.dimensions, index_kind = excluded.index_kind, index_growth_factor = excluded.index_growth_factor,
  index_min_rows = excluded.index_min_rows, index_build_memory = excluded.index_build_memory,
  bulk_rows = excluded.bulk_rows, vector_type = excluded.vector_type, fulltext_column = excluded.fulltext_column,
  text_search_config = excluded.text_search_config, chunking = excluded.chunking, chunk_tokens = excluded.chunk_tokens,
  chunk_overlap = excluded.chunk_overlap, updated_at = now()
WHERE (s.id_column, s.text_columns, s.document_sql, s.embedding_column, s.checksum_column, s.embedded_at_column,
       s.text_hash_column, s.model, s.model_checksum, s.dimensions, s.index_kind, s.index_growth_factor,
       s.index_min_rows, s.index_build_memory, s.bulk_rows, s.vector_type, s.fulltext_column, s.text_search_config,
       s.chunking, s.chunk_tokens, s.chunk_overlap)
  IS DISTINCT FROM
      (excluded.id_column, excluded.text_columns, excluded.document_sql, excluded.embedding_column,
       excluded.checksum_column, excluded.embedded_at_column, excluded.text_hash_column, excluded.model,
       excluded.model_checksum, excluded.dimensions, excluded.index_kind, excluded.index_growth_factor,
       excluded.index_min_rows, excluded.index_build_memory, excluded.bulk_rows, excluded.vector_type,
       excluded.fulltext_column, excluded.text_search_config, excluded.chunking, excluded.chunk_tokens, excluded.chunk_overlap)
