import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { mergeMap, type Observable } from 'rxjs';
import type { Principal } from './principal.js';
import { PresenceService } from './presence.service.js';

/**
 * An agent's successful call is its sign of life: after the handler succeeds (never for a refused
 * or failed request), its last-seen time is updated and it comes online.
 */
@Injectable()
export class PresenceInterceptor implements NestInterceptor {
  constructor(private readonly presence: PresenceService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (principal?.kind !== 'agent') return next.handle();
    return next.handle().pipe(
      mergeMap(async (result: unknown) => {
        await this.presence.touch(principal.agentId);
        return result;
      }),
    );
  }
}
