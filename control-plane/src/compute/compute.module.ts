import { Module } from '@nestjs/common';
import { EconomyModule } from '../economy/economy.module.js';
import { AdmissionQueue } from './admission-queue.service.js';
import { GatewayLimits } from './gateway-limits.service.js';
import { GatewayController } from './gateway.controller.js';
import { GatewayService } from './gateway.service.js';
import { ComputePauseController, LlmAdminController, UsageController } from './llm-admin.controller.js';
import { LlmPrices } from './llm-prices.service.js';
import { LlmUpstreams } from './llm-upstreams.service.js';
import { LoopBreaker } from './loop-breaker.service.js';
import { UsageService } from './usage.service.js';

/** The compute gateway: agents' LLM calls, metered and billed through the ledger. */
@Module({
  imports: [EconomyModule],
  controllers: [GatewayController, LlmAdminController, UsageController, ComputePauseController],
  providers: [GatewayService, GatewayLimits, LlmUpstreams, LlmPrices, AdmissionQueue, LoopBreaker, UsageService],
})
export class ComputeModule {}
