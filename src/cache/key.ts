// Cache keys bind a vector to the exact model (checksum), role and text: a model change or a different prompt
// can never be answered from an old entry.
import { createHash } from 'node:crypto';
import type { Role, TruncationSide } from '../encoder/types.ts';

export function cacheKey(modelChecksum: string, role: Role, text: string, truncate: TruncationSide = 'right'): string {
  // NUL separators: checksum and role never contain one, so the parts cannot run into each other. A text cut at
  // the left is another vector (when it is long enough to be cut): its own key; the right keeps the old keys.
  const h = createHash('sha256').update(modelChecksum).update('\0').update(role);
  if (truncate === 'left') h.update('\0left');
  return h.update('\0').update(text, 'utf8').digest('hex');
}
