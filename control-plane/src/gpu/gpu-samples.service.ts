import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  type GPU_SAMPLE_SORT_FIELDS,
  type GpuAttribution,
  type GpuSampleBatchSchema,
  type GpuSampleRecord,
  type GpuSampleReportResult,
} from '../contract/index.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import { LOGGER } from '../logging/logger.js';
import { processShares } from './gpu-share.js';

type SampleSortField = (typeof GPU_SAMPLE_SORT_FIELDS)[number];
const LISTED_SAMPLES = {
  table: 'gpu_samples',
  sort: {
    id: 'id',
    sampledAt: 'sampled_at',
    usedMemoryMib: 'used_memory_mib',
    gpuSeconds: 'gpu_seconds',
  } satisfies Record<SampleSortField, string>,
  filter: {
    id: 'id',
    node: 'node',
    agentId: 'agent_id',
    reportedAgentId: 'reported_agent_id',
    attribution: 'attribution',
    deviceUuid: 'device_uuid',
    gpuUuid: 'gpu_uuid',
    containerId: 'container_id',
    pid: 'pid',
    usageId: 'usage_id',
    billed: '(usage_id IS NOT NULL)',
  },
};

/** How far ahead of this replica's clock a sample may be (nodes' clocks drift a little). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** A node whose GPU runs the site's own processes (an LLM server) reports them every sample: log it once a minute. */
const UNATTRIBUTED_LOG_MS = 60_000;

export interface SampleRow {
  id: string;
  node: string;
  sampled_at: Date;
  period_ms: number;
  device_uuid: string;
  gpu_uuid: string;
  gpu_index: number;
  gpu_name: string;
  mig_profile: string | null;
  fraction: number;
  utilization_percent: number | null;
  pid: number;
  used_memory_mib: number | null;
  container_id: string | null;
  reported_agent_id: string | null;
  agent_id: string | null;
  attribution: GpuAttribution;
  gpu_seconds: number;
  gpu_memory_gib_seconds: number;
  usage_id: string | null;
  received_at: Date;
}

/**
 * GPU samples from the nodes' reporters: each compute process of each sample stored once under its key
 * (node, sample time, device, PID), with its share of GPU time and memory and whose it is. Processes that
 * name no agent the village knows are kept as unattributed (never billed) and reported.
 */
@Injectable()
export class GpuSamplesService {
  private readonly loggedAt = new Map<string, number>();

  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async record(node: string, batch: z.output<typeof GpuSampleBatchSchema>): Promise<GpuSampleReportResult> {
    const now = Date.now();
    let expired = 0;
    const rows: Record<string, unknown>[] = [];
    batch.samples.forEach((sample, index) => {
      const at = Date.parse(sample.sampledAt);
      if (at > now + FUTURE_TOLERANCE_MS) {
        throw new BadRequestException(
          `samples[${index}].sampledAt ${sample.sampledAt} is ${Math.round((at - now) / 1000)} s ahead of the ` +
            `control plane's clock: check the clock of node ${node} (NTP)`,
        );
      }
      if (at < now - this.config.VILLAGE_GPU_SAMPLE_MAX_AGE_MS) {
        expired++;
        return;
      }
      for (const { device, process, gpuSeconds, gpuMemoryGibSeconds } of processShares(sample)) {
        rows.push({
          sampledAt: new Date(at),
          periodMs: sample.periodMs,
          deviceUuid: device.uuid,
          gpuUuid: device.gpuUuid,
          gpuIndex: device.index,
          gpuName: device.name,
          migProfile: device.migProfile,
          fraction: device.fraction,
          utilization: device.utilizationPercent,
          pid: process.pid,
          usedMemoryMib: process.usedMemoryMib,
          containerId: process.containerId,
          agentId: process.agentId,
          lookupFailed: process.lookupFailed,
          gpuSeconds,
          gpuMemoryGibSeconds,
        });
      }
    });
    if (rows.length === 0) return { recorded: 0, duplicates: 0, unattributed: 0, expired };

    const column = (key: string) => rows.map((row) => row[key]);
    // One statement: whose each process is (an agent the village knows, or why not) and the insert,
    // skipping keys stored before, so a replayed delivery changes nothing.
    const { rows: stored } = await this.database.query<{ attribution: GpuAttribution; used_memory_mib: number | null }>(
      `INSERT INTO gpu_samples (node, sampled_at, period_ms, device_uuid, gpu_uuid, gpu_index, gpu_name, mig_profile,
                                fraction, utilization_percent, pid, used_memory_mib, container_id, reported_agent_id,
                                agent_id, attribution, gpu_seconds, gpu_memory_gib_seconds)
       SELECT $1, r.sampled_at, r.period_ms, r.device_uuid, r.gpu_uuid, r.gpu_index, r.gpu_name, r.mig_profile,
              r.fraction, r.utilization, r.pid, r.used_memory_mib, r.container_id, r.agent_id,
              a.id,
              CASE WHEN r.lookup_failed THEN 'lookup_failed'
                   WHEN r.container_id IS NULL THEN 'no_container'
                   WHEN r.agent_id IS NULL THEN 'not_an_agent'
                   WHEN a.id IS NULL THEN 'unknown_agent'
                   ELSE 'agent' END,
              r.gpu_seconds, r.gpu_memory_gib_seconds
         FROM unnest($2::timestamptz[], $3::int[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
                     $9::float8[], $10::smallint[], $11::int[], $12::int[], $13::text[], $14::text[], $15::bool[],
                     $16::float8[], $17::float8[])
              AS r(sampled_at, period_ms, device_uuid, gpu_uuid, gpu_index, gpu_name, mig_profile, fraction,
                   utilization, pid, used_memory_mib, container_id, agent_id, lookup_failed, gpu_seconds,
                   gpu_memory_gib_seconds)
         LEFT JOIN agents a ON a.id = r.agent_id AND r.container_id IS NOT NULL AND NOT r.lookup_failed
       ON CONFLICT (node, sampled_at, device_uuid, pid) DO NOTHING
       RETURNING attribution, used_memory_mib`,
      [
        node,
        column('sampledAt'),
        column('periodMs'),
        column('deviceUuid'),
        column('gpuUuid'),
        column('gpuIndex'),
        column('gpuName'),
        column('migProfile'),
        column('fraction'),
        column('utilization'),
        column('pid'),
        column('usedMemoryMib'),
        column('containerId'),
        column('agentId'),
        column('lookupFailed'),
        column('gpuSeconds'),
        column('gpuMemoryGibSeconds'),
      ],
    );
    const unattributed = stored.filter((row) => row.attribution !== 'agent');
    if (unattributed.length > 0) await this.reportUnattributed(node, unattributed);
    return {
      recorded: stored.length,
      duplicates: rows.length - stored.length,
      unattributed: unattributed.length,
      expired,
    };
  }

  list(query: ListQuery<SampleSortField>): Promise<{ items: GpuSampleRecord[]; total: number }> {
    return listPage(this.database, LISTED_SAMPLES, query, toSampleRecord);
  }

  private async reportUnattributed(
    node: string,
    rows: { attribution: GpuAttribution; used_memory_mib: number | null }[],
  ) {
    const byAttribution: Record<string, number> = {};
    let usedMemoryMib = 0;
    for (const row of rows) {
      byAttribution[row.attribution] = (byAttribution[row.attribution] ?? 0) + 1;
      usedMemoryMib += row.used_memory_mib ?? 0;
    }
    if ((this.loggedAt.get(node) ?? 0) < Date.now() - UNATTRIBUTED_LOG_MS) {
      this.loggedAt.set(node, Date.now());
      this.logger.warn(
        { node, samples: rows.length, byAttribution, usedMemoryMib },
        'GPU processes that belong to no known agent: recorded, not billed (said at most once a minute per node)',
      );
    }
    await this.events.publish([
      { type: 'gpu.samples_unattributed', node, samples: rows.length, byAttribution, usedMemoryMib },
    ]);
  }
}

export function toSampleRecord(row: SampleRow): GpuSampleRecord {
  return {
    id: Number(row.id),
    node: row.node,
    sampledAt: row.sampled_at.toISOString(),
    periodMs: row.period_ms,
    deviceUuid: row.device_uuid,
    gpuUuid: row.gpu_uuid,
    gpuIndex: row.gpu_index,
    gpuName: row.gpu_name,
    migProfile: row.mig_profile,
    fraction: row.fraction,
    utilizationPercent: row.utilization_percent,
    pid: row.pid,
    usedMemoryMib: row.used_memory_mib,
    containerId: row.container_id,
    reportedAgentId: row.reported_agent_id,
    agentId: row.agent_id,
    attribution: row.attribution,
    gpuSeconds: row.gpu_seconds,
    gpuMemoryGibSeconds: row.gpu_memory_gib_seconds,
    usageId: row.usage_id === null ? null : Number(row.usage_id),
    receivedAt: row.received_at.toISOString(),
  };
}
