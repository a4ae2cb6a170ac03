-- Builds vector index {{index}} on a plain table or one partition without blocking its readers and
-- writers (CONCURRENTLY). Cosine ops of the column's type ({{index_ops}}: vector_cosine_ops or
-- halfvec_cosine_ops): every query orders by <=>. {{index_with}} carries ivfflat's lists, sized for the rows
-- of this relation; hnsw has no lists.
CREATE INDEX CONCURRENTLY {{index}} ON {{relation}} USING {{index_method}} ({{column}} {{index_ops}}) {{index_with}}
