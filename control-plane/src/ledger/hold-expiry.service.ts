import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { LedgerService } from './ledger.service.js';

/**
 * Releases holds past their expiry, every VILLAGE_HOLD_SWEEP_MS on every replica: a release is
 * idempotent (its key names the hold), so replicas sweeping together release each hold once.
 */
@Injectable()
export class HoldExpiryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly logError: (error: unknown) => void;

  constructor(
    private readonly ledger: LedgerService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logError = throttledErrorLog(logger, 'releasing expired holds');
  }

  onApplicationBootstrap() {
    this.timer = setInterval(() => {
      this.sweeping ??= this.ledger
        .expireHolds()
        .catch(this.logError)
        .finally(() => (this.sweeping = undefined));
    }, this.config.VILLAGE_HOLD_SWEEP_MS);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
