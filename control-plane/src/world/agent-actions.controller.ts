import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  AgentActionSchema,
  MoveRequestSchema,
  type ActionResult,
  type AgentAction,
  type MoveCommand,
  type MoveResult,
} from '../contract/index.js';
import { Access } from '../auth/principal.js';
import { Idempotent } from '../http/idempotency.interceptor.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { ActionsService } from './actions.service.js';
import { MovementService } from './movement.service.js';

/** What an agent does in the world: move and act. Only the agent itself (or the admin) may. */
@Controller('agents')
export class AgentActionsController {
  constructor(
    private readonly movement: MovementService,
    private readonly actions: ActionsService,
  ) {}

  /** `{dx,dy}`: one step now. `{x,y}` or `{landmark}`: walk there, one tile per tick (202). */
  @Post(':id/move')
  @Idempotent()
  @Access('agent-self')
  async move(
    @Param('id') id: string,
    @Body(new SchemaPipe(MoveRequestSchema)) command: MoveCommand,
    @Res({ passthrough: true }) response: Response,
  ): Promise<MoveResult> {
    const result = await this.movement.move(id, command);
    response.status(result.outcome === 'walking' ? 202 : 200);
    return result;
  }

  @Post(':id/action')
  @Idempotent()
  @HttpCode(200)
  @Access('agent-self')
  act(
    @Param('id') id: string,
    @Body(new SchemaPipe(AgentActionSchema, 'action')) action: AgentAction,
  ): Promise<ActionResult> {
    return this.actions.perform(id, action);
  }
}
