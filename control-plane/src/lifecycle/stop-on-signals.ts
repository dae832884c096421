import type { Logger } from 'pino';

const STOP_TIMEOUT_MS = 20_000;

/**
 * Graceful shutdown for a process: on the first SIGTERM or SIGINT, run `stop` (close the app, the
 * agents, the embedded services) and exit 0; if it hangs, exit 1 after 20 s. A second signal while
 * stopping is ignored, so a Ctrl-C that also reaches child processes does not cut the cleanup short.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error({ timeoutMs: STOP_TIMEOUT_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
