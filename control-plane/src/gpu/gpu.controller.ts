import { BadRequestException, Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import {
  GPU_SAMPLE_SORT_FIELDS,
  GPU_USAGE_SORT_FIELDS,
  GpuSampleBatchSchema,
  type GpuDeviceSample,
  type GpuSampleRecord,
  type GpuSampleReportResult,
  type GpuSummary,
  type GpuUsage,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { TiersService } from '../economy/tiers.service.js';
import { NodesService } from '../fleet/nodes.service.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { GpuBillingService } from './gpu-billing.service.js';
import { GpuSamplesService } from './gpu-samples.service.js';

type AuthedRequest = Request & { principal?: Principal };

/** The physical GPUs behind a sample's devices (a MIG slice counts its GPU once), in index order. */
function physicalGpus(devices: readonly GpuDeviceSample[]) {
  const gpus = new Map<string, { uuid: string; index: number; name: string; memoryTotalMib: number | null }>();
  for (const device of devices) {
    const whole = device.uuid === device.gpuUuid;
    if (gpus.has(device.gpuUuid) && !whole) continue;
    gpus.set(device.gpuUuid, {
      uuid: device.gpuUuid,
      index: device.index,
      name: device.name,
      memoryTotalMib: whole ? device.memoryTotalMib : (gpus.get(device.gpuUuid)?.memoryTotalMib ?? null),
    });
  }
  return [...gpus.values()].sort((a, b) => a.index - b.index);
}
const DAY_MS = 86_400_000;

/**
 * `/api/gpu`: the nodes' GPU reporters send samples; moderators list the samples and the bills; anyone
 * sees an agent's GPU summary (like its balance).
 */
@Controller('gpu')
export class GpuController {
  constructor(
    private readonly samples: GpuSamplesService,
    private readonly billing: GpuBillingService,
    private readonly tiers: TiersService,
    private readonly nodes: NodesService,
  ) {}

  /** A node's samples, oldest first; a sample delivered again changes nothing. */
  @Post('samples')
  @Access('node')
  async report(
    @Body(new SchemaPipe(GpuSampleBatchSchema)) body: z.output<typeof GpuSampleBatchSchema>,
    @Req() request: AuthedRequest,
  ): Promise<GpuSampleReportResult> {
    const principal = request.principal!;
    if (principal.kind !== 'node') {
      // The admin token passes the node rule, but samples belong to a node: only its token names it.
      throw new BadRequestException('GPU samples are sent with a node token (vnt_...): it names the node');
    }
    await this.nodes.touch(principal.node);
    const result = await this.samples.record(principal.node, body);
    // The node's GPU inventory, for the fleet's placement and GPU requests: what the newest sample shows.
    const newest = body.samples.at(-1);
    if (newest) await this.nodes.recordGpus(principal.node, physicalGpus(newest.devices));
    return result;
  }

  @Get('samples')
  @Access('moderator')
  async listSamples(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<GpuSampleRecord[]> {
    const list = parseListQuery(query, GPU_SAMPLE_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.samples.list(list);
    setContentRange(response, 'gpu-samples', list.offset, items.length, total);
    return items;
  }

  @Get('usage')
  @Access('moderator')
  async listUsage(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<GpuUsage[]> {
    const list = parseListQuery(query, GPU_USAGE_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.billing.list(list);
    setContentRange(response, 'gpu-usage', list.offset, items.length, total);
    return items;
  }

  @Get('usage/:id')
  @Access('moderator')
  usage(@Param('id', new NumericIdPipe('the id of a GPU bill')) id: number): Promise<GpuUsage> {
    return this.billing.get(id);
  }

  /** An agent's GPU use and bills since `since` (default: the last 24 hours). */
  @Get('summary/:agentId')
  async summary(@Param('agentId') agentId: string, @Query('since') since: string | undefined): Promise<GpuSummary> {
    const from = since === undefined ? new Date(Date.now() - DAY_MS) : new Date(since);
    if (Number.isNaN(from.getTime())) throw new BadRequestException('since must be an ISO 8601 time');
    await this.tiers.economyOf(agentId); // 404 for an unknown agent
    return this.billing.summary(agentId, from);
  }
}
