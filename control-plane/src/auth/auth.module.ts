import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { AccessTokens } from './access-tokens.js';
import { AuthService } from './auth.service.js';
import { PresenceInterceptor } from './presence.interceptor.js';
import { PresenceService } from './presence.service.js';

@Global()
@Module({
  providers: [
    AccessTokens,
    AuthService,
    PresenceService,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_INTERCEPTOR, useClass: PresenceInterceptor },
  ],
  exports: [AccessTokens, AuthService, PresenceService],
})
export class AuthModule {}
