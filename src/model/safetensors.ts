// The safetensors checkpoint format, read and written: one import for its users, the parts live by role in
// safetensors-format (types), safetensors-header, safetensors-reader, sharded-checkpoint, dtype-conversion
// and safetensors-writer.
export {
  SAFETENSORS_DTYPES, SafetensorsError, type SafetensorsDtype, type SafetensorsFile, type TensorEntry,
} from './safetensors-format.ts';
export { openSafetensorsFile, parseSafetensors, type OpenSafetensors } from './safetensors-reader.ts';
export { SHARD_INDEX, SINGLE_FILE } from './shard-index.ts';
export { openCheckpointTensors } from './sharded-checkpoint.ts';
export { floatToBfloat16, floatToHalf, halfToFloat, toFloat32 } from './dtype-conversion.ts';
export { writeSafetensors, writeSafetensorsToFd, type TensorToWrite } from './safetensors-writer.ts';
