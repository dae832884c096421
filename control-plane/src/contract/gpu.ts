import { z } from 'zod';

/**
 * GPU share: what each node's GPU reporter (agent-image/src/gpu) sees through nvidia-smi, and what the
 * control plane bills each agent for it on the ledger. A sample is one node's GPUs and their compute
 * processes at one moment; it stands for the period before that moment. docs/ECONOMY.md explains the
 * prices and ADR 0015 the rules.
 */

/** What an hour of GPU costs an agent, in mills: the tier's price (`entitlements.gpuPrice`). */
export const GpuPriceSchema = z
  .object({
    /** One whole GPU kept busy for an hour (a MIG slice or a shared GPU pays its part of it). */
    gpuHour: z.number().int().nonnegative().max(1_000_000_000),
    /** One GiB of GPU memory held for an hour. */
    memoryGibHour: z.number().int().nonnegative().max(1_000_000_000),
  })
  .strict();
export type GpuPrice = z.infer<typeof GpuPriceSchema>;
/** The price of a tier stored before GPU prices existed (and of every tier of the default policy). */
export const DEFAULT_GPU_PRICE: GpuPrice = { gpuHour: 20_000, memoryGibHour: 100 };

/** `GPU-<uuid>` for a whole GPU, `MIG-<uuid>` (or the older `MIG-GPU-<uuid>/<gi>/<ci>`) for a MIG device. */
export const GpuUuidSchema = z
  .string()
  .regex(/^(GPU|MIG)-[A-Za-z0-9/-]{1,100}$/, 'a GPU UUID looks like GPU-<uuid> or MIG-<uuid>');
/** Docker's full container id: 64 hex digits. */
export const ContainerIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a container id is 64 hex digits');

/** One device processes run on: a whole GPU, or one MIG device of it. */
export const GpuDeviceSampleSchema = z
  .object({
    /** The device's own UUID (a MIG device's, or the GPU's). */
    uuid: GpuUuidSchema,
    /** The physical GPU it is (part of). */
    gpuUuid: GpuUuidSchema,
    /** nvidia-smi's index of the physical GPU. */
    index: z.number().int().nonnegative().max(1023),
    name: z.string().max(200),
    /** The MIG profile (`1g.10gb`), null for a whole GPU. */
    migProfile: z.string().max(40).nullable(),
    /**
     * The part of the physical GPU this device is: 1 for a whole GPU, 1/7 for a 1g slice of a 7-slice
     * GPU, and 0 for a GPU in MIG mode itself (its processes whose slice is unknown pay for memory only).
     */
    fraction: z.number().min(0).max(1),
    memoryTotalMib: z.number().int().nonnegative().nullable(),
    memoryUsedMib: z.number().int().nonnegative().nullable(),
    /** Percent of the last sampling period a kernel ran; null where nvidia-smi says [N/A] (MIG, some boards). */
    utilizationPercent: z.number().int().min(0).max(100).nullable(),
  })
  .strict();
export type GpuDeviceSample = z.infer<typeof GpuDeviceSampleSchema>;

/** One compute process on a device, as the node mapped it: host PID → container → agent. */
export const GpuProcessSampleSchema = z
  .object({
    deviceUuid: GpuUuidSchema,
    /** The host PID (what the driver reports). */
    pid: z.number().int().positive().max(4_194_304),
    /** GPU memory the process holds; null where nvidia-smi says [N/A]. */
    usedMemoryMib: z.number().int().nonnegative().nullable(),
    /** The Docker container it runs in (from /proc/<pid>/cgroup); null for a process outside containers. */
    containerId: ContainerIdSchema.nullable(),
    /** The agent the container belongs to (its `ai-village.agent` label); null when it has none. */
    agentId: z.string().min(1).max(64).nullable(),
    /** True when the node could not ask Docker about the container (so it cannot say whose it is). */
    lookupFailed: z.boolean().default(false),
  })
  .strict();
export type GpuProcessSample = z.input<typeof GpuProcessSampleSchema>;

/** The longest and shortest period a sample may stand for. */
export const GPU_SAMPLE_PERIOD_MS = { min: 1_000, max: 600_000 } as const;

export const GpuSampleSchema = z
  .object({
    /** The moment of the sample (the reporter takes them on wall-clock multiples of its period). */
    sampledAt: z.iso.datetime({ offset: true }),
    /** The period the sample stands for, ending at `sampledAt`. */
    periodMs: z.number().int().min(GPU_SAMPLE_PERIOD_MS.min).max(GPU_SAMPLE_PERIOD_MS.max),
    devices: z.array(GpuDeviceSampleSchema).max(256),
    processes: z.array(GpuProcessSampleSchema).max(4096),
  })
  .strict()
  .superRefine((sample, context) => {
    const devices = new Set<string>();
    sample.devices.forEach((device, index) => {
      if (devices.has(device.uuid)) {
        context.addIssue({ code: 'custom', path: ['devices', index, 'uuid'], message: `device ${device.uuid} twice` });
      }
      devices.add(device.uuid);
    });
    const seen = new Set<string>();
    sample.processes.forEach((process, index) => {
      if (!devices.has(process.deviceUuid)) {
        context.addIssue({
          code: 'custom',
          path: ['processes', index, 'deviceUuid'],
          message: `process ${process.pid} is on ${process.deviceUuid}, which is not among the sample's devices`,
        });
      }
      const key = `${process.deviceUuid}/${process.pid}`;
      if (seen.has(key)) {
        context.addIssue({
          code: 'custom',
          path: ['processes', index, 'pid'],
          message: `process ${process.pid} on ${process.deviceUuid} twice`,
        });
      }
      seen.add(key);
      if (process.agentId !== null && process.containerId === null) {
        context.addIssue({
          code: 'custom',
          path: ['processes', index, 'agentId'],
          message: 'an agent is named by its container: agentId needs a containerId',
        });
      }
    });
  });
export type GpuSample = z.input<typeof GpuSampleSchema>;

/** `POST /api/gpu/samples` (node daemons): samples of the calling node, oldest first. */
export const GpuSampleBatchSchema = z.object({ samples: z.array(GpuSampleSchema).min(1).max(100) }).strict();

export const GpuSampleReportResultSchema = z.object({
  /** Process samples stored now. */
  recorded: z.number().int(),
  /** Process samples stored before (a replayed delivery): nothing changed for them. */
  duplicates: z.number().int(),
  /** Of those recorded, the ones that name no known agent: kept, never billed. */
  unattributed: z.number().int(),
  /** Samples older than the control plane bills (VILLAGE_GPU_SAMPLE_MAX_AGE_MS): not stored. */
  expired: z.number().int(),
});
export type GpuSampleReportResult = z.infer<typeof GpuSampleReportResultSchema>;

/** Whose a process sample is: an agent's (billed), or why it is nobody's. */
export const GPU_ATTRIBUTIONS = ['agent', 'no_container', 'not_an_agent', 'unknown_agent', 'lookup_failed'] as const;
export type GpuAttribution = (typeof GPU_ATTRIBUTIONS)[number];

/** A stored process sample (`GET /api/gpu/samples`, moderators). */
export const GpuSampleRecordSchema = z.object({
  id: z.number().int(),
  node: z.string(),
  sampledAt: z.string(),
  periodMs: z.number().int(),
  deviceUuid: z.string(),
  gpuUuid: z.string(),
  gpuIndex: z.number().int(),
  gpuName: z.string(),
  migProfile: z.string().nullable(),
  fraction: z.number(),
  utilizationPercent: z.number().int().nullable(),
  pid: z.number().int(),
  usedMemoryMib: z.number().int().nullable(),
  containerId: z.string().nullable(),
  /** The agent the node named (null when none). */
  reportedAgentId: z.string().nullable(),
  /** The agent billed for it: the reported one when the village knows it. */
  agentId: z.string().nullable(),
  attribution: z.enum(GPU_ATTRIBUTIONS),
  /** Its share of GPU time and of GPU memory over the period (ADR 0015). */
  gpuSeconds: z.number(),
  gpuMemoryGibSeconds: z.number(),
  /** The bill it went into (`GET /api/gpu/usage/:id`); null until billed, and for nobody's samples. */
  usageId: z.number().int().nullable(),
  receivedAt: z.string(),
});
export type GpuSampleRecord = z.infer<typeof GpuSampleRecordSchema>;
export const GPU_SAMPLE_SORT_FIELDS = ['id', 'sampledAt', 'usedMemoryMib', 'gpuSeconds'] as const;

/** charged: all of it; partial: what the agent had; unpaid: nothing (it had nothing); free: it cost 0. */
export const GPU_USAGE_STATUSES = ['charged', 'partial', 'unpaid', 'free'] as const;

/** One bill: an agent's GPU use in one billing window (`GET /api/gpu/usage`, moderators). */
export const GpuUsageSchema = z.object({
  id: z.number().int(),
  agentId: z.string(),
  windowStart: z.string(),
  windowEnd: z.string(),
  /** 0 for the window's bill; 1, 2, … for samples that arrived after it was billed. */
  part: z.number().int().nonnegative(),
  samples: z.number().int(),
  gpuSeconds: z.number(),
  gpuMemoryGibSeconds: z.number(),
  /** The agent's tier when billed, and its price. */
  tier: z.number().int(),
  price: GpuPriceSchema,
  /** The exact price of the use, in (fractions of) mills. */
  costExact: z.number(),
  /**
   * In mills: the price charged (the exact price plus what the agent's bill before carried, rounded to
   * the nearest mill), what was taken, what could not be.
   */
  cost: z.number().int(),
  charged: z.number().int(),
  shortfall: z.number().int(),
  /** What rounding left over (between -0.5 and 0.5 mills), carried to the agent's next bill. */
  carry: z.number(),
  status: z.enum(GPU_USAGE_STATUSES),
  /** The ledger transfer (reason `gpu_usage`); null when nothing was taken. */
  transferId: z.number().int().nullable(),
  createdAt: z.string(),
});
export type GpuUsage = z.infer<typeof GpuUsageSchema>;
export const GPU_USAGE_SORT_FIELDS = ['id', 'windowStart', 'cost', 'gpuSeconds'] as const;

/** `GET /api/gpu/summary/:agentId?since=`: an agent's GPU use and bills (public, like its balance). */
export const GpuSummarySchema = z.object({
  agentId: z.string(),
  since: z.string(),
  bills: z.number().int(),
  gpuSeconds: z.number(),
  gpuMemoryGibSeconds: z.number(),
  cost: z.number().int(),
  charged: z.number().int(),
  shortfall: z.number().int(),
  /** Samples received and not billed yet (their window has not closed). */
  unbilled: z.object({ samples: z.number().int(), gpuSeconds: z.number(), gpuMemoryGibSeconds: z.number() }),
});
export type GpuSummary = z.infer<typeof GpuSummarySchema>;
