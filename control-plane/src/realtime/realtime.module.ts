import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module.js';
import { ViewerGateway } from './viewer-gateway.service.js';

@Module({ imports: [AgentsModule], providers: [ViewerGateway], exports: [ViewerGateway] })
export class RealtimeModule {}
