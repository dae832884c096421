import { Body, Controller, Delete, Get, Param, ParseIntPipe, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import {
  EGRESS_REQUEST_SORT_FIELDS,
  EgressRequestBatchSchema,
  RegisterEgressSecretRequestSchema,
  egressHostAllowed,
  type EgressPolicy,
  type EgressReportResult,
  type EgressRequest,
  type EgressSecret,
  type RegisterEgressSecretRequest,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { TiersService } from '../economy/tiers.service.js';
import { NodesService } from '../fleet/nodes.service.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { EgressLogService } from './egress-log.service.js';
import { EgressSecretsService } from './egress-secrets.service.js';

type AuthedRequest = Request & { principal?: Principal };

/**
 * `/api/egress`: admins register site secrets; node egress proxies read each agent's policy (allowed
 * hosts and the secrets to inject) and report what went out.
 */
@Controller('egress')
export class EgressController {
  constructor(
    private readonly secrets: EgressSecretsService,
    private readonly log: EgressLogService,
    private readonly tiers: TiersService,
    private readonly nodes: NodesService,
  ) {}

  @Post('secrets')
  @Access('admin')
  registerSecret(
    @Body(new SchemaPipe(RegisterEgressSecretRequestSchema)) body: RegisterEgressSecretRequest,
    @Req() request: AuthedRequest,
  ): Promise<EgressSecret> {
    return this.secrets.register(body, request.principal!);
  }

  @Get('secrets')
  @Access('admin')
  async listSecrets(@Res({ passthrough: true }) response: Response): Promise<EgressSecret[]> {
    const items = await this.secrets.list();
    setContentRange(response, 'secrets', 0, items.length, items.length);
    return items;
  }

  @Delete('secrets/:id')
  @Access('admin')
  revokeSecret(@Param('id', ParseIntPipe) id: number, @Req() request: AuthedRequest): Promise<EgressSecret> {
    return this.secrets.revoke(id, request.principal!);
  }

  /** What a node's proxy enforces for one agent: its tier's hosts (none while quarantined) and the secrets for them. */
  @Get('policy/:agentId')
  @Access('node')
  async policy(@Param('agentId') agentId: string, @Req() request: AuthedRequest): Promise<EgressPolicy> {
    await this.seen(request.principal);
    const economy = await this.tiers.economyOf(agentId);
    const hosts = economy.tier.quarantined ? [] : economy.entitlements.egressHosts;
    const secrets = (await this.secrets.live()).filter((secret) => egressHostAllowed(hosts, secret.host));
    return { agentId, tier: { level: economy.tier.level, name: economy.tier.name }, hosts, secrets };
  }

  @Post('requests')
  @Access('node')
  async report(
    @Body(new SchemaPipe(EgressRequestBatchSchema)) body: z.output<typeof EgressRequestBatchSchema>,
    @Req() request: AuthedRequest,
  ): Promise<EgressReportResult> {
    const principal = request.principal!;
    await this.seen(principal);
    return this.log.record(principal.kind === 'node' ? principal.node : 'admin', body);
  }

  private async seen(principal: Principal | undefined) {
    if (principal?.kind === 'node') await this.nodes.touch(principal.node);
  }
}

/** `/api/egress-requests`: the outbound request log for moderators (ra-data-simple-rest). */
@Controller('egress-requests')
export class EgressRequestsController {
  constructor(private readonly log: EgressLogService) {}

  @Get()
  @Access('moderator')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<EgressRequest[]> {
    const list = parseListQuery(query, EGRESS_REQUEST_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.log.list(list);
    setContentRange(response, 'egress-requests', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  @Access('moderator')
  get(@Param('id', ParseIntPipe) id: number): Promise<EgressRequest> {
    return this.log.get(id);
  }
}
