import type { Logger } from 'pino';

/**
 * Logs a connection's errors without flooding the log while it is down: the first error, then at
 * most one line per interval with how many were skipped.
 */
export function throttledErrorLog(logger: Logger, what: string, intervalMs = 10_000): (error: unknown) => void {
  let lastAt = 0;
  let skipped = 0;
  return (error: unknown) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      skipped++;
      return;
    }
    logger.warn({ err: error, skipped }, `${what} error`);
    lastAt = now;
    skipped = 0;
  };
}
