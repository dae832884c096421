import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { PresenceService } from './presence.service.js';

@Global()
@Module({
  providers: [AuthService, PresenceService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService, PresenceService],
})
export class AuthModule {}
