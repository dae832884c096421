import { STATUS_CODES } from 'node:http';
import type { ApiError } from '../contract/index.js';

/** The one shape every error answer has (the contract's ApiError). */
export function apiError(
  statusCode: number,
  message: string,
  requestId?: string,
  issues?: ApiError['issues'],
): ApiError {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(issues ? { issues } : {}), requestId };
}

const OPENAI_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'invalid_request_error',
  429: 'rate_limit_error',
};

/** OpenAI's error object, for the gateway's `/v1` routes: any OpenAI client shows it as it shows OpenAI's. */
export function openAiErrorBody(status: number, message: string, code: string | null, param: string | null = null) {
  const type = OPENAI_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { error: { message, type, code, param } };
}

/** The error body for a path: OpenAI's shape under `/v1`, the village's ApiError everywhere else. */
export function errorBodyFor(path: string, status: number, message: string, requestId?: string) {
  return path.startsWith('/v1/') ? openAiErrorBody(status, message, null) : apiError(status, message, requestId);
}

// PostgreSQL's codes for text it cannot store (a NUL byte, an invalid sequence): the client's input.
const BAD_TEXT_CODES = new Set(['22021', '22P05']);

/** True for a database error caused by text in the request that PostgreSQL refuses. */
export function isUnstorableText(error: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length) {
    const item = stack.pop();
    if (!item || typeof item !== 'object' || seen.has(item)) continue;
    seen.add(item);
    const record = item as Record<string, unknown>;
    if (BAD_TEXT_CODES.has(String(record.code)) || BAD_TEXT_CODES.has(String(record.originalCode))) return true;
    stack.push(record.cause, record.meta, record.driverAdapterError);
  }
  return false;
}
