/** SQLSTATEs after which the same work, tried again a moment later, can succeed. */
const RETRYABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown: another backend crashed, every connection is reset
  '57P03', // cannot_connect_now: the server is starting up or recovering
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** What the node socket layer reports when the server is not there (yet). */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** The pg client's own messages for a connection that died or never came (they carry no code). */
const CLIENT_MESSAGES = /Connection terminated|is not queryable|timeout exceeded when trying to connect/;

/**
 * True when an error says the database was unreachable, restarting or busy rather than that the work
 * was wrong: work that is safe to repeat (idempotent) may be tried again.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (code.startsWith('08') || RETRYABLE_SQLSTATES.has(code) || SOCKET_ERRORS.has(code))) {
    return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isTransientDatabaseError);
  return typeof message === 'string' && CLIENT_MESSAGES.test(message);
}
