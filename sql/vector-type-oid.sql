-- The vector type's oid in this database (pgvector's types get a new oid per database): the binary array
-- format the write path sends names its element type by oid.
SELECT 'vector'::regtype::oid::int AS oid
