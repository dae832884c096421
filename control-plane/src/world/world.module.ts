import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module.js';
import { ActionsService } from './actions.service.js';
import { AgentActionsController } from './agent-actions.controller.js';
import { WorldClock } from './clock/world-clock.service.js';
import { MovementService } from './movement.service.js';
import { WorldController } from './world.controller.js';

@Module({
  imports: [AgentsModule],
  controllers: [WorldController, AgentActionsController],
  providers: [MovementService, ActionsService, WorldClock],
  exports: [WorldClock, MovementService],
})
export class WorldModule {}
