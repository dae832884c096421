import { Module } from '@nestjs/common';
import { AgentMemoryController } from './agent-memory.controller.js';
import { AgentMemoryService } from './agent-memory.service.js';

/** Agents' memory that outlives their containers: episodes and reflection notes (docs/AGENTS.md). */
@Module({ controllers: [AgentMemoryController], providers: [AgentMemoryService], exports: [AgentMemoryService] })
export class AgentMemoryModule {}
