import { ConfigError } from '../config/config.js';
import { MapLoadError } from '../world/village-map.js';

/** What to tell a person whose village did not start: the cause in one line where we know it. */
export function describeStartUpFailure(error: unknown): string {
  if (error instanceof ConfigError || error instanceof MapLoadError) return error.message;
  const code = (error as { code?: unknown }).code;
  const cause = error as { address?: string; port?: number; message?: string };
  if (code === 'EADDRINUSE') {
    return `port ${cause.port} on ${cause.address} is already in use: stop what uses it, or choose another with PORT`;
  }
  if (code === 'ECONNREFUSED') {
    return `cannot connect to ${cause.address}:${cause.port} (${cause.message}): is the service behind DATABASE_URL / REDIS_URL running?`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
