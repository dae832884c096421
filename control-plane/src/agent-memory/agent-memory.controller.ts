import { Body, Controller, ForbiddenException, Get, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import {
  AddNoteRequestSchema,
  EpisodeBatchRequestSchema,
  MemoryQuerySchema,
  ReplaceNotesRequestSchema,
  type AddNoteRequest,
  type AgentMemory,
  type EpisodeBatchRequest,
  type EpisodeBatchResult,
  type MemoryNotes,
  type MemoryQuery,
  type ReplaceNotesRequest,
} from '../contract/index.js';
import { Access, isModerator, type Principal } from '../auth/principal.js';
import { Idempotent } from '../http/idempotency.interceptor.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { AgentMemoryService } from './agent-memory.service.js';

type MemoryRequest = Request & { principal?: Principal };

/** An agent's memory: written by the agent itself, read by it and by moderators. */
@Controller('agents/:id/memory')
export class AgentMemoryController {
  constructor(private readonly memory: AgentMemoryService) {}

  @Get()
  @Access('signed-in')
  read(
    @Param('id') agentId: string,
    @Query(new SchemaPipe(MemoryQuerySchema, 'query')) query: MemoryQuery,
    @Req() request: MemoryRequest,
  ): Promise<AgentMemory> {
    mayRead(request.principal, agentId);
    return this.memory.read(agentId, query.episodes);
  }

  @Post('episodes')
  @Access('agent-self')
  recordEpisodes(
    @Param('id') agentId: string,
    @Body(new SchemaPipe(EpisodeBatchRequestSchema)) body: EpisodeBatchRequest,
  ): Promise<EpisodeBatchResult> {
    return this.memory.recordEpisodes(agentId, body.episodes);
  }

  @Get('notes')
  @Access('signed-in')
  notes(@Param('id') agentId: string, @Req() request: MemoryRequest): Promise<MemoryNotes> {
    mayRead(request.principal, agentId);
    return this.memory.notes(agentId);
  }

  @Post('notes')
  @Access('agent-self')
  @Idempotent()
  addNote(
    @Param('id') agentId: string,
    @Body(new SchemaPipe(AddNoteRequestSchema)) body: AddNoteRequest,
  ): Promise<MemoryNotes> {
    return this.memory.addNote(agentId, body.text);
  }

  @Put('notes')
  @Access('agent-self')
  replaceNotes(
    @Param('id') agentId: string,
    @Body(new SchemaPipe(ReplaceNotesRequestSchema)) body: ReplaceNotesRequest,
  ): Promise<MemoryNotes> {
    return this.memory.replaceNotes(agentId, body);
  }
}

/** The agent itself, or a moderator (or admin): another agent's memory is private. */
function mayRead(principal: Principal | undefined, agentId: string): void {
  if (isModerator(principal)) return;
  if (principal?.kind === 'agent' && principal.agentId === agentId) return;
  throw new ForbiddenException(`only agent ${agentId} itself or a moderator may read its memory`);
}
