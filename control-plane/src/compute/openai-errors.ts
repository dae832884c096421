import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { openAiErrorBody } from '../http/api-error.js';
import { LOGGER } from '../logging/logger.js';

export { openAiErrorBody };

/** A gateway refusal: a status, a code a program can branch on, and a message a person can act on. */
export class OpenAiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS?: number,
    readonly param: string | null = null,
  ) {
    super(message, status);
  }
}

/** The `/v1` routes' errors (including the guard's 401s) in OpenAI's shape. */
@Catch()
export class OpenAiErrorsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request & { id?: string }>();
    let status = 500;
    let message = 'internal error in the gateway; see the server log';
    let code: string | null = 'internal_error';
    let param: string | null = null;
    if (exception instanceof OpenAiError) {
      status = exception.getStatus();
      message = exception.message;
      code = exception.code;
      param = exception.param;
      if (exception.retryAfterS !== undefined) response.setHeader('Retry-After', String(exception.retryAfterS));
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const raw = exception.getResponse();
      const details = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
      message = String(
        Array.isArray(details.message) ? details.message.join('; ') : (details.message ?? exception.message),
      );
      code = status === 401 ? 'invalid_api_key' : null;
    } else {
      this.logger.error({ err: exception, requestId: request.id, url: request.url }, 'gateway request failed');
    }
    if (response.headersSent) return;
    response.status(status).json(openAiErrorBody(status, message, code, param));
  }
}
