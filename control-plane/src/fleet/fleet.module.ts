import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module.js';
import { EconomyModule } from '../economy/economy.module.js';
import { WorldModule } from '../world/world.module.js';
import { AgentContainers } from './agent-containers.service.js';
import { FleetAgentsService } from './fleet-agents.service.js';
import { FleetController } from './fleet.controller.js';
import { FleetIdentity } from './fleet-identity.service.js';
import { FleetReconciler } from './fleet-reconciler.service.js';
import { KillSwitchService } from './kill-switch.service.js';
import { NodeEngines } from './node-engines.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

/** The machines that run agents, the agents' containers on them (the reconcile loop) and the kill switch. */
@Module({
  imports: [EconomyModule, AgentsModule, WorldModule],
  controllers: [NodesController, FleetController],
  providers: [
    NodesService,
    NodeEngines,
    FleetIdentity,
    AgentContainers,
    FleetAgentsService,
    KillSwitchService,
    FleetReconciler,
  ],
  exports: [NodesService, FleetAgentsService, KillSwitchService, FleetReconciler],
})
export class FleetModule {}
