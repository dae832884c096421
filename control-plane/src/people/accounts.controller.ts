import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Access, type Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import {
  RefreshRequestSchema,
  SignInRequestSchema,
  SignUpRequestSchema,
  type Session,
  type SignInCommand,
  type SignUpCommand,
  type User,
} from '../contract/index.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { AuthRateLimits } from './auth-rate-limits.js';
import { PeopleService, type IssuedSession, type RequestContext } from './people.service.js';
import { clearRefreshCookie, readRefreshCookie, setRefreshCookie } from './refresh-cookie.js';

type AuthRequest = Request & { id?: string; principal?: Principal };

/** Signing up, in and out, and refreshing a session: `/api/auth/*`. */
@Controller('auth')
@Access('token-ignored')
export class AccountsController {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly people: PeopleService,
    private readonly limits: AuthRateLimits,
  ) {}

  @Post('sign-up')
  async signUp(
    @Body(new SchemaPipe(SignUpRequestSchema)) body: SignUpCommand,
    @Req() request: AuthRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Session> {
    await this.limits.signUp(clientAddress(request), response);
    return this.deliver(await this.people.signUp(body, context(request)), request, response);
  }

  @Post('sign-in')
  @HttpCode(200)
  async signIn(
    @Body(new SchemaPipe(SignInRequestSchema)) body: SignInCommand,
    @Req() request: AuthRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Session> {
    await this.limits.signIn(clientAddress(request), body.login, response);
    try {
      const issued = await this.people.signIn(body, context(request));
      await this.limits.succeededSignIn(body.login);
      return this.deliver(issued, request, response);
    } catch (error) {
      if (error instanceof UnauthorizedException) await this.limits.failedSignIn(body.login);
      throw error;
    }
  }

  /** The refresh token comes from the body (scripts) or the cookie (browsers). */
  @Post('refresh')
  @HttpCode(200)
  async refresh(
    @Body(new SchemaPipe(RefreshRequestSchema)) body: { refreshToken?: string },
    @Req() request: AuthRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Session> {
    const token = body.refreshToken ?? readRefreshCookie(request);
    if (!token) throw new UnauthorizedException('not signed in: no refresh token in the body or cookie');
    try {
      return this.deliver(await this.people.refresh(token), request, response);
    } catch (error) {
      if (error instanceof UnauthorizedException && !body.refreshToken)
        clearRefreshCookie(this.config, request, response);
      throw error;
    }
  }

  @Post('sign-out')
  @HttpCode(204)
  async signOut(
    @Body(new SchemaPipe(RefreshRequestSchema)) body: { refreshToken?: string },
    @Req() request: AuthRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    await this.people.signOut(body.refreshToken ?? readRefreshCookie(request), request.principal);
    clearRefreshCookie(this.config, request, response);
  }

  @Get('me')
  @Access('signed-in')
  async me(@Req() request: AuthRequest): Promise<User> {
    const principal = request.principal!;
    if (principal.kind !== 'user') throw new UnauthorizedException("this token is not a person's: sign in");
    const { email: _email, ...user } = await this.people.get(principal.userId);
    return user;
  }

  private deliver(issued: IssuedSession, request: Request, response: Response): Session {
    if (issued.kind === 'cookie') setRefreshCookie(this.config, request, response, issued.refreshToken);
    // Tokens must never sit in a shared cache.
    response.setHeader('Cache-Control', 'no-store');
    return issued.session;
  }
}

function clientAddress(request: Request): string {
  return request.ip ?? request.socket.remoteAddress ?? 'unknown';
}

function context(request: AuthRequest): RequestContext {
  return { userAgent: request.headers['user-agent'], requestId: request.id };
}
