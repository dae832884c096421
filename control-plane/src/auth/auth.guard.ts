import {
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthService } from './auth.service.js';
import { ACCESS_RULE, type AccessRule, type Principal } from './principal.js';

/** The one place that decides who may call what (registered as APP_GUARD). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule =
      this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'public';
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const principal = await this.principalOf(request, rule !== 'public');
    request.principal = principal;
    this.check(rule, principal, request);
    return true;
  }

  private check(rule: AccessRule, principal: Principal | undefined, request: Request) {
    if (rule === 'public') return;
    if (rule === 'admin' && principal?.kind !== 'admin') throw new ForbiddenException('this needs the admin token');
    if (rule === 'agent-self' && principal?.kind === 'agent') {
      const target = String(request.params.id ?? '');
      if (principal.agentId !== target) {
        throw new ForbiddenException(`agent ${principal.agentId} may act only as itself, not as ${target}`);
      }
    }
  }

  private async principalOf(request: Request, required: boolean): Promise<Principal | undefined> {
    const header = request.headers.authorization;
    if (!header) {
      if (required) throw new UnauthorizedException('missing bearer token: send "Authorization: Bearer <token>"');
      return undefined;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedException('the Authorization header must be "Bearer <token>"');
    const principal = await this.auth.authenticate(match[1]!);
    if (!principal) throw new UnauthorizedException('the bearer token is not valid');
    return principal;
  }
}
