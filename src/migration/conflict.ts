// A model migration refused because of the state it found: another one under way, none to abort, nothing to do.
export class MigrationConflictError extends Error {
  override name = 'MigrationConflictError';
}
