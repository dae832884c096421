import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller.js';
import { AuthRateLimits } from './auth-rate-limits.js';
import { PeopleService } from './people.service.js';
import { UsersController } from './users.controller.js';

@Module({
  controllers: [AccountsController, UsersController],
  providers: [PeopleService, AuthRateLimits],
  exports: [PeopleService],
})
export class PeopleModule {}
