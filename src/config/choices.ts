// The closed sets a setting may take its value from, as `as const` tuples with the union types they give.

export const INDEX_KINDS = ['ivfflat', 'hnsw', 'none'] as const;
export type IndexKind = (typeof INDEX_KINDS)[number];
export const DTYPES = ['fp32', 'int8'] as const;
export type Dtype = (typeof DTYPES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where vectors come from: the local ONNX model or a remote service (src/encoder/remote/). */
export const BACKENDS = ['local', 'embedsync', 'tei', 'openai'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The column type of the vectors: full (4 bytes a dimension) or half precision (2 bytes, pgvector's halfvec). */
export const VECTOR_TYPES = ['vector', 'halfvec'] as const;
export type VectorType = (typeof VECTOR_TYPES)[number];

/** How a table's documents become vectors: one per row, or one per chunk of the model's tokens (docs/chunking.md). */
export const CHUNKINGS = ['none', 'tokens'] as const;
/** How migrate has the table's inserts and updates captured (docs/sync.md#logical-decoding). */
export const CAPTURES = ['triggers', 'logical'] as const;
export type Capture = (typeof CAPTURES)[number];
export type Chunking = (typeof CHUNKINGS)[number];
