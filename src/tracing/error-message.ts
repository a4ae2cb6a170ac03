// The SDK hands errors over as Error objects, as their JSON serialisation or as "Error: ..." strings; operators
// need the message.
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  const text = String(err);
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string') return parsed.message;
  } catch { /* not JSON */ }
  return text.replace(/^Error: /, '');
}
