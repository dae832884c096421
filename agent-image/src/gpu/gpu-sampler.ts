// One GPU sample of this node: the GPUs (and MIG devices) nvidia-smi sees, their compute processes,
// and for each process its container (from /proc/<pid>/cgroup) and that container's agent (its label).
// The control plane turns the sample into GPU-seconds and GPU-memory-seconds (ADR 0015).
import type { GpuDeviceSample, GpuProcessSample, GpuSample } from '@ai-village/control-plane/contract';
import type { ContainerDirectory } from './container-directory.js';
import { NvidiaSmi, type SmiFailure } from './nvidia-smi.js';
import {
  migSlicesOf,
  parseComputeApps,
  parseGpuList,
  parseGpuQuery,
  type SmiGpu,
  type SmiMigDevice,
} from './nvidia-smi-parse.js';
import { containerOfPid } from './process-container.js';

export type SampleOutcome =
  | {
      ok: true;
      sample: GpuSample;
      /** What was left out or could not be told (lines nvidia-smi printed wrong, a slice unknown...). */
      problems: string[];
      /** GPU memory its processes held, and the part held by agents' containers (MiB). */
      memory: { usedMib: number; agentMib: number };
    }
  | { ok: true; noDevices: true }
  | { ok: false; failure: SmiFailure | 'unexpected-output'; message: string };

export interface GpuSamplerOptions {
  smi: NvidiaSmi;
  directory: ContainerDirectory;
  /** Where the host's processes are (`/proc`; a container running the reporter mounts the host's). */
  procRoot?: string;
}

export class GpuSampler {
  constructor(private readonly options: GpuSamplerOptions) {}

  async take(at: Date, periodMs: number): Promise<SampleOutcome> {
    const { smi } = this.options;
    const gpuRun = await smi.gpus();
    if (!gpuRun.ok) return { ok: false, failure: gpuRun.failure, message: gpuRun.message };
    if ('noDevices' in gpuRun) return { ok: true, noDevices: true };
    const gpus = parseGpuQuery(gpuRun.stdout);
    if (gpus.rows.length === 0) {
      return {
        ok: false,
        failure: 'unexpected-output',
        message: `nvidia-smi --query-gpu gave no GPU it could read: ${gpus.problems.slice(0, 3).join('; ') || 'it printed nothing'}`,
      };
    }
    const appRun = await smi.computeApps();
    if (!appRun.ok) return { ok: false, failure: appRun.failure, message: appRun.message };
    const apps = 'noDevices' in appRun ? { rows: [], problems: [] } : parseComputeApps(appRun.stdout);
    const problems = [
      ...gpus.problems.map((p) => `--query-gpu ${p}`),
      ...apps.problems.map((p) => `--query-compute-apps ${p}`),
    ];

    let migDevices: SmiMigDevice[] = [];
    if (gpus.rows.some((gpu) => gpu.mig)) {
      const listRun = await smi.list();
      if (listRun.ok && !('noDevices' in listRun)) {
        const list = parseGpuList(listRun.stdout);
        migDevices = list.rows;
        problems.push(...list.problems.map((p) => `-L ${p}`));
      } else {
        problems.push(`nvidia-smi -L: ${listRun.ok ? 'no devices' : listRun.message}: MIG slices unknown this time`);
      }
    }

    const devices = devicesOf(gpus.rows, migDevices);
    const byUuid = new Map(devices.map((device) => [device.uuid, device]));
    const gpuByUuid = new Map(gpus.rows.map((gpu) => [gpu.uuid, gpu]));
    const procRoot = this.options.procRoot ?? '/proc';
    const known = apps.rows.filter((app) => {
      if (byUuid.has(app.gpuUuid)) return true;
      problems.push(`process ${app.pid} is on ${app.gpuUuid}, which --query-gpu did not list: left out`);
      return false;
    });
    const containers = await Promise.all(known.map((app) => containerOfPid(app.pid, procRoot)));
    const owners = await this.options.directory.ownersOf(containers.filter((id): id is string => id !== null));

    const processes: GpuProcessSample[] = [];
    const seen = new Set<string>();
    let usedMib = 0;
    let agentMib = 0;
    for (const [i, app] of known.entries()) {
      const containerId = containers[i]!;
      const owner = containerId ? owners.get(containerId)! : { agentId: null };
      const gpu = gpuByUuid.get(app.gpuUuid);
      const deviceUuid = gpu?.mig ? await this.sliceOf(gpu, containerId, migDevices, app.pid, problems) : app.gpuUuid;
      const key = `${deviceUuid}/${app.pid}`;
      if (seen.has(key)) {
        problems.push(`process ${app.pid} on ${deviceUuid} listed twice: counted once`);
        continue;
      }
      seen.add(key);
      const lookupFailed = 'lookupFailed' in owner;
      if (lookupFailed)
        problems.push(`container ${containerId!.slice(0, 12)} of process ${app.pid}: ${owner.lookupFailed}`);
      const agentId = lookupFailed ? null : owner.agentId;
      processes.push({
        deviceUuid,
        pid: app.pid,
        usedMemoryMib: app.usedMemoryMib,
        containerId,
        agentId,
        lookupFailed,
      });
      usedMib += app.usedMemoryMib ?? 0;
      if (agentId) agentMib += app.usedMemoryMib ?? 0;
    }
    return {
      ok: true,
      sample: { sampledAt: at.toISOString(), periodMs, devices, processes },
      problems,
      memory: { usedMib, agentMib },
    };
  }

  /**
   * The MIG device a process on a GPU in MIG mode runs on: the one slice of that GPU its container was
   * given (by UUID or as `<gpu>:<mig>`). Otherwise the GPU itself, whose part is 0: such a process pays
   * for its memory only, and the reason is said.
   */
  private async sliceOf(
    gpu: SmiGpu,
    containerId: string | null,
    migDevices: SmiMigDevice[],
    pid: number,
    problems: string[],
  ): Promise<string> {
    const slices = migDevices.filter((device) => device.gpuUuid === gpu.uuid);
    const given = containerId ? await this.options.directory.devicesOf(containerId) : null;
    const mine = given
      ? slices.filter((slice) => given.includes(slice.uuid) || given.includes(`${gpu.index}:${slice.index}`))
      : [];
    if (mine.length === 1) return mine[0]!.uuid;
    problems.push(
      `process ${pid} on GPU ${gpu.index} (MIG): ${
        containerId === null
          ? 'not in a container'
          : given === null
            ? 'Docker did not say which slice its container has'
            : `its container has ${mine.length} of the GPU's slices`
      }, so its slice is unknown: it pays for memory only`,
    );
    return gpu.uuid;
  }
}

/** The sample's devices: each whole GPU, and for a GPU in MIG mode the GPU itself (part 0) and its slices. */
function devicesOf(gpus: SmiGpu[], migDevices: SmiMigDevice[]): GpuDeviceSample[] {
  return gpus.flatMap((gpu) => {
    const whole: GpuDeviceSample = {
      uuid: gpu.uuid,
      gpuUuid: gpu.uuid,
      index: gpu.index,
      name: gpu.name,
      migProfile: null,
      fraction: gpu.mig ? 0 : 1,
      memoryTotalMib: gpu.memoryTotalMib,
      memoryUsedMib: gpu.memoryUsedMib,
      utilizationPercent: gpu.mig ? null : gpu.utilizationPercent,
    };
    if (!gpu.mig) return [whole];
    const total = migSlicesOf(gpu.name);
    return [
      whole,
      ...migDevices
        .filter((device) => device.gpuUuid === gpu.uuid)
        .map((device) => ({
          uuid: device.uuid,
          gpuUuid: gpu.uuid,
          index: gpu.index,
          name: gpu.name,
          migProfile: device.profile,
          fraction: Math.min(1, device.slices / total),
          memoryTotalMib: null,
          memoryUsedMib: null,
          utilizationPercent: null,
        })),
    ];
  });
}
