import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Logger } from 'pino';
import { AgentMemoryModule } from './agent-memory/agent-memory.module.js';
import { AgentsModule } from './agents/agents.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BoardModule } from './board/board.module.js';
import type { Config } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { ComputeModule } from './compute/compute.module.js';
import { EconomyModule } from './economy/economy.module.js';
import { EgressModule } from './egress/egress.module.js';
import { EventsModule } from './events/events.module.js';
import { FleetModule } from './fleet/fleet.module.js';
import { FlowsModule } from './flows/flows.module.js';
import { GpuModule } from './gpu/gpu.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ErrorsFilter } from './http/errors.filter.js';
import { PaymentsModule } from './payments/payments.module.js';
import { PeopleModule } from './people/people.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { RedisModule } from './redis/redis.module.js';
import { ToolCallsModule } from './tool-calls/tool-calls.module.js';
import { WorldMapModule } from './world/world-map.module.js';
import { WorldModule } from './world/world.module.js';

/** The control plane: one module per domain, cross-cutting concerns registered once here. */
@Module({})
export class AppModule {
  static forRoot(config: Config, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, logger),
        DatabaseModule,
        RedisModule,
        EventsModule,
        WorldMapModule,
        AuthModule,
        AuditModule,
        PeopleModule,
        AgentsModule,
        BoardModule,
        EconomyModule,
        ComputeModule,
        PaymentsModule,
        FleetModule,
        EgressModule,
        GpuModule,
        ToolCallsModule,
        AgentMemoryModule,
        WorldModule,
        RealtimeModule,
        FlowsModule,
        HealthModule,
        MetricsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ErrorsFilter }],
    };
  }
}
