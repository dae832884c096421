import { Module } from '@nestjs/common';
import { EconomyModule } from '../economy/economy.module.js';
import { FleetModule } from '../fleet/fleet.module.js';
import { GpuBillingService } from './gpu-billing.service.js';
import { GpuController } from './gpu.controller.js';
import { GpuSamplesService } from './gpu-samples.service.js';

/** GPU share: samples from the nodes' reporters, and each agent's GPU time and memory billed on the ledger. */
@Module({
  imports: [EconomyModule, FleetModule],
  controllers: [GpuController],
  providers: [GpuSamplesService, GpuBillingService],
  exports: [GpuBillingService],
})
export class GpuModule {}
