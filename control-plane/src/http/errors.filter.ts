import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { ApiError } from '../contract/index.js';
import { apiError, isUnstorableText } from './api-error.js';
import { LOGGER } from '../logging/logger.js';

/** Every error leaves as the contract's ApiError JSON; unexpected ones are logged and say 500. */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const context = host.switchToHttp();
    const response = context.getResponse<Response>();
    const request = context.getRequest<Request & { id?: string }>();
    const body = this.toApiError(exception, request);
    if (body.statusCode >= 500)
      this.logger.error({ err: exception, requestId: request.id, url: request.url }, 'request failed');
    if (!response.headersSent) response.status(body.statusCode).json(body);
  }

  private toApiError(exception: unknown, request: Request & { id?: string }): ApiError {
    const requestId = request.id;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const raw = exception.getResponse();
      const details = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
      const message = Array.isArray(details.message)
        ? details.message.join('; ')
        : String(details.message ?? exception.message);
      const issues = Array.isArray(details.issues) ? (details.issues as ApiError['issues']) : undefined;
      return apiError(status, message, requestId, issues);
    }
    if (isUnstorableText(exception)) {
      return apiError(400, 'text in the request contains a character that cannot be stored (such as NUL)', requestId);
    }
    return apiError(500, 'internal error; see the server log', requestId);
  }
}
