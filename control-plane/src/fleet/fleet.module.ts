import { Module } from '@nestjs/common';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

/** The machines that run agents, and (later) their containers. */
@Module({
  controllers: [NodesController],
  providers: [NodesService],
  exports: [NodesService],
})
export class FleetModule {}
