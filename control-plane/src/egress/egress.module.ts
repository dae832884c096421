import { Module } from '@nestjs/common';
import { EconomyModule } from '../economy/economy.module.js';
import { FleetModule } from '../fleet/fleet.module.js';
import { EgressController, EgressRequestsController } from './egress.controller.js';
import { EgressLogService } from './egress-log.service.js';
import { EgressSecretsService } from './egress-secrets.service.js';

/** Guarded egress: site secrets, each agent's egress policy for its node's proxy, and the request log. */
@Module({
  imports: [EconomyModule, FleetModule],
  controllers: [EgressController, EgressRequestsController],
  providers: [EgressSecretsService, EgressLogService],
})
export class EgressModule {}
