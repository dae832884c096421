import { Body, Controller, Get, Param, Post, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  NodeNameSchema,
  RegisterNodeRequestSchema,
  UpdateNodeRequestSchema,
  type RegisterNodeRequest,
  type RegisteredNode,
  type UpdateNodeRequest,
  type VillageNode,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { NodesService } from './nodes.service.js';

type AuthedRequest = Request & { principal?: Principal };
const nodeName = new SchemaPipe(NodeNameSchema, 'node name');

/** `/api/nodes`: admins register machines, set their engines and rotate their tokens; moderators see them. */
@Controller('nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Post()
  @Access('admin')
  register(
    @Body(new SchemaPipe(RegisterNodeRequestSchema)) body: RegisterNodeRequest,
    @Req() request: AuthedRequest,
  ): Promise<RegisteredNode> {
    return this.nodes.register(body, request.principal!);
  }

  @Get()
  @Access('moderator')
  async list(@Res({ passthrough: true }) response: Response): Promise<VillageNode[]> {
    const items = await this.nodes.list();
    setContentRange(response, 'nodes', 0, items.length, items.length);
    return items;
  }

  @Get(':name')
  @Access('moderator')
  get(@Param('name') name: string): Promise<VillageNode> {
    return this.nodes.get(nodeName.transform(name));
  }

  @Put(':name')
  @Access('admin')
  update(
    @Param('name') name: string,
    @Body(new SchemaPipe(UpdateNodeRequestSchema)) body: UpdateNodeRequest,
    @Req() request: AuthedRequest,
  ): Promise<VillageNode> {
    return this.nodes.update(nodeName.transform(name), body, request.principal!);
  }

  @Post(':name/token')
  @Access('admin')
  rotateToken(@Param('name') name: string, @Req() request: AuthedRequest): Promise<RegisteredNode> {
    return this.nodes.rotateToken(nodeName.transform(name), request.principal!);
  }
}
