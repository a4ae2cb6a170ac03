// Cache keys bind a vector to the exact model (checksum), role and text: a model change or a different prompt
// can never be answered from an old entry.
import { createHash } from 'node:crypto';
import type { Role } from '../encoder/types.ts';

export function cacheKey(modelChecksum: string, role: Role, text: string): string {
  // NUL separators: checksum and role never contain one, so the three parts cannot run into each other.
  return createHash('sha256').update(modelChecksum).update('\0').update(role).update('\0').update(text, 'utf8').digest('hex');
}
