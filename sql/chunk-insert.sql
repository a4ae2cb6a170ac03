-- The second half: the new chunks of the written rows, by model $5, as parallel arrays (ids as text, chunk
-- numbers, passages, and the vectors in pgvector's binary format, as the row write sends them).
INSERT INTO {{chunk_table}} (id, chunk, chunk_text, embedding, model_checksum)
SELECT i.id::{{id_type}}, i.chunk, i.chunk_text, i.embedding, $5
FROM unnest($1::text[], $2::integer[], $3::text[], $4::vector[]) AS i(id, chunk, chunk_text, embedding)
