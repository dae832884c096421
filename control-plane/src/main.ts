// Runs one control-plane replica with configuration from the environment (see docs/DEPLOYMENT.md).
// For a whole village on one machine with no configuration, use `npm start` (cli/start.ts).
import { createApp } from './app.js';
import { loadConfig } from './config/config.js';
import { describeStartUpFailure } from './lifecycle/start-up-failure.js';
import { createLogger } from './logging/logger.js';
import { closeApp } from './lifecycle/close-app.js';
import { stopOnSignals } from './lifecycle/stop-on-signals.js';

try {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, config.VILLAGE_REPLICA_ID);
  const app = await createApp(config, logger);
  stopOnSignals(logger, () => closeApp(app));
  await app.listen(config.PORT, config.HOST);
  logger.info({ port: config.PORT }, 'control plane listening');
} catch (error) {
  console.error(`The control plane did not start: ${describeStartUpFailure(error)}`);
  process.exit(1);
}
