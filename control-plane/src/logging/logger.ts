import { pino, type Logger } from 'pino';
import type { LoggerService } from '@nestjs/common';
import { requestLogFields } from './request-context.js';

/** One structured (JSON lines) logger per process; Nest's own messages go through it too. */
export function createLogger(level: string, replica: string): Logger {
  return pino({ level, base: { replica }, timestamp: pino.stdTimeFunctions.isoTime, mixin: requestLogFields });
}

export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  // Nest's own `log` level is start-up chatter (every route mapped): keep it out of info.
  log(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

export const LOGGER = Symbol('LOGGER');
