import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { LedgerModule } from '../ledger/ledger.module.js';
import { AgentEconomyCache } from './agent-economy-cache.service.js';
import { AgentRateLimitInterceptor, AgentRequestLimiter } from './agent-rate-limit.interceptor.js';
import { EconomyController } from './economy.controller.js';
import { JudgementsService } from './judgements.service.js';
import { TiersService } from './tiers.service.js';
import { AgentTierController, TransfersController } from './transfers.controller.js';

/** The economy: rewards and penalties, tiers and what they allow, the console's transfers. */
@Module({
  imports: [LedgerModule],
  controllers: [EconomyController, TransfersController, AgentTierController],
  providers: [
    TiersService,
    AgentEconomyCache,
    JudgementsService,
    AgentRequestLimiter,
    { provide: APP_INTERCEPTOR, useClass: AgentRateLimitInterceptor },
  ],
  exports: [TiersService, AgentEconomyCache, AgentRequestLimiter, LedgerModule],
})
export class EconomyModule {}
