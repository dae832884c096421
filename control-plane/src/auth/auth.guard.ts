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
import { ACCESS_RULE, isAdmin, isModerator, type AccessRule, type Principal } from './principal.js';

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
    if (rule === 'token-ignored') {
      request.principal = await this.principalOf(request, false).catch(() => undefined);
      return true;
    }
    const principal = await this.principalOf(request, rule !== 'public');
    request.principal = principal;
    this.check(rule, principal, request);
    return true;
  }

  private check(rule: AccessRule, principal: Principal | undefined, request: Request) {
    if (rule === 'public' || rule === 'token-ignored') return;
    if (principal?.kind === 'user' && principal.ban) {
      const until = principal.ban.until ? ` until ${principal.ban.until}` : '';
      throw new ForbiddenException(`you are banned${until}: ${principal.ban.reason}`);
    }
    switch (rule) {
      case 'signed-in':
        return;
      case 'person':
        if (principal?.kind !== 'user') throw new ForbiddenException('this is for signed-in people');
        return;
      case 'moderator':
        if (!isModerator(principal)) throw new ForbiddenException('this needs a moderator');
        return;
      case 'admin':
        if (!isAdmin(principal)) throw new ForbiddenException('this needs an admin');
        return;
      case 'node':
        if (!isAdmin(principal) && principal?.kind !== 'node')
          throw new ForbiddenException("this is for a node's daemons");
        return;
      case 'agent-self': {
        if (isAdmin(principal)) return;
        const target = String(request.params.id ?? '');
        if (principal?.kind !== 'agent') throw new ForbiddenException(`only agent ${target} (or an admin) may do this`);
        if (principal.agentId !== target) {
          throw new ForbiddenException(`agent ${principal.agentId} may act only as itself, not as ${target}`);
        }
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
    if (principal === 'expired') throw new UnauthorizedException('the access token has expired: refresh it');
    if (!principal) throw new UnauthorizedException('the bearer token is not valid');
    return principal;
  }
}
