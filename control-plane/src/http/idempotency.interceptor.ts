import {
  ConflictException,
  Inject,
  Injectable,
  ServiceUnavailableException,
  UseInterceptors,
  UnprocessableEntityException,
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { catchError, from, mergeMap, of, type Observable } from 'rxjs';
import { principalKey, type Principal } from '../auth/principal.js';
import { RedisService } from '../redis/redis.service.js';

/** How long an answer is kept for a retry with the same key. */
const REMEMBER_SECONDS = 24 * 60 * 60;
const KEY_PATTERN = /^[\w.:-]{8,200}$/;

/**
 * Marks a route whose effect must happen once even when a client retries it: with an
 * `Idempotency-Key` header, the first answer is kept (24 h) and a retry with the same key and the
 * same request gets it again instead of acting twice.
 */
export const Idempotent = () => UseInterceptors(IdempotencyInterceptor);

interface Remembered {
  fingerprint: string;
  status?: number;
  body?: unknown;
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@Inject(RedisService) private readonly redis: RedisService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { principal?: Principal }>();
    const response = http.getResponse<Response>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw new BadRequestException('Idempotency-Key must be 8-200 characters of letters, digits and . _ : -');
    }
    const who = principalKey(request.principal);
    const key = this.redis.key(`idempotency:${who}:${request.method}:${request.path}:${header}`);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(request.body ?? null))
      .digest('hex');

    return from(this.claim(key, fingerprint)).pipe(
      mergeMap((earlier) => {
        if (earlier) {
          if (earlier.fingerprint !== fingerprint) {
            throw new UnprocessableEntityException('this Idempotency-Key was already used for a different request');
          }
          if (earlier.status === undefined) {
            throw new ConflictException('a request with this Idempotency-Key is still in progress');
          }
          response.status(earlier.status);
          return of(earlier.body);
        }
        return next.handle().pipe(
          mergeMap(async (body: unknown) => {
            const remembered: Remembered = { fingerprint, status: response.statusCode, body };
            await this.redis.commands.set(key, JSON.stringify(remembered), 'EX', REMEMBER_SECONDS);
            return body;
          }),
          // A request that failed did nothing: free the key, so a retry runs afresh.
          catchError((error: unknown) =>
            from(this.redis.commands.del(key).catch(() => 0)).pipe(
              mergeMap(() => {
                throw error;
              }),
            ),
          ),
        );
      }),
    );
  }

  /** Claims the key for this request; returns what an earlier request with it left, if any. */
  private async claim(key: string, fingerprint: string): Promise<Remembered | undefined> {
    try {
      const pending: Remembered = { fingerprint };
      const claimed = await this.redis.commands.set(key, JSON.stringify(pending), 'EX', REMEMBER_SECONDS, 'NX');
      if (claimed === 'OK') return undefined;
      const earlier = await this.redis.commands.get(key);
      return earlier ? (JSON.parse(earlier) as Remembered) : undefined;
    } catch {
      throw new ServiceUnavailableException('cannot honour the Idempotency-Key just now (Redis is away); try again');
    }
  }
}
