import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  FLEET_AGENT_SORT_FIELDS,
  KillSwitchRequestSchema,
  StartFleetAgentRequestSchema,
  type FleetAgent,
  type FleetBulkResult,
  type KillSwitchRequest,
  type StartFleetAgentRequest,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { FleetAgentsService } from './fleet-agents.service.js';
import { KillSwitchService } from './kill-switch.service.js';

type AuthedRequest = Request & { principal?: Principal };
const killSwitch = new SchemaPipe(KillSwitchRequestSchema);

/**
 * `/api/fleet`: the agents the fleet runs (moderators read them, ra-data-simple-rest style) and the
 * kill switch (admins; every action takes a reason, is audited and goes on the event stream).
 */
@Controller('fleet')
export class FleetController {
  constructor(
    private readonly fleet: FleetAgentsService,
    private readonly kill: KillSwitchService,
  ) {}

  @Get('agents')
  @Access('moderator')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<FleetAgent[]> {
    const list = parseListQuery(query, FLEET_AGENT_SORT_FIELDS, ['agentId', 'ASC']);
    const { items, total } = await this.fleet.list(list);
    setContentRange(response, 'fleet-agents', list.offset, items.length, total);
    return items;
  }

  @Get('agents/:id')
  @Access('moderator')
  get(@Param('id') id: string): Promise<FleetAgent> {
    return this.fleet.get(id);
  }

  @Post('agents/:id/start')
  @HttpCode(200)
  @Access('admin')
  start(
    @Param('id') id: string,
    @Body(new SchemaPipe(StartFleetAgentRequestSchema)) body: StartFleetAgentRequest,
    @Req() request: AuthedRequest,
  ): Promise<FleetAgent> {
    return this.fleet.start(id, body, request.principal!);
  }

  @Post('agents/:id/freeze')
  @HttpCode(200)
  @Access('admin')
  freeze(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.freeze(id, body.reason, request.principal!);
  }

  @Post('agents/:id/unfreeze')
  @HttpCode(200)
  @Access('admin')
  unfreeze(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.unfreeze(id, body.reason, request.principal!);
  }

  @Post('agents/:id/kill')
  @HttpCode(200)
  @Access('admin')
  killOne(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.kill(id, body.reason, request.principal!);
  }

  @Post('agents/:id/revoke-token')
  @HttpCode(200)
  @Access('admin')
  revokeToken(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.revokeToken(id, body.reason, request.principal!);
  }

  @Post('agents/:id/quarantine')
  @HttpCode(200)
  @Access('admin')
  quarantine(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.quarantine(id, body.reason, request.principal!);
  }

  @Post('agents/:id/release')
  @HttpCode(200)
  @Access('admin')
  release(@Param('id') id: string, @Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest) {
    return this.kill.release(id, body.reason, request.principal!);
  }

  @Post('pause-all')
  @HttpCode(200)
  @Access('admin')
  pauseAll(@Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest): Promise<FleetBulkResult> {
    return this.kill.pauseAll(body.reason, request.principal!);
  }

  @Post('resume-all')
  @HttpCode(200)
  @Access('admin')
  resumeAll(@Body(killSwitch) body: KillSwitchRequest, @Req() request: AuthedRequest): Promise<FleetBulkResult> {
    return this.kill.resumeAll(body.reason, request.principal!);
  }
}
