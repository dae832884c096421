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
