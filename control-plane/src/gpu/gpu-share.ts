// The GPU-share rules, in one place (ADR 0015): what part of a GPU's time and memory a process sample
// stands for, and what a window of them costs. Pure functions; the samples service stores their
// results with each sample, the biller prices their sums and rounds each bill to whole mills.
import type { z } from 'zod';
import { MAX_TRANSFER_AMOUNT, type GpuPrice, type GpuSampleSchema } from '../contract/index.js';

type Sample = z.output<typeof GpuSampleSchema>;
type Device = Sample['devices'][number];
type Process = Sample['processes'][number];

export interface ProcessShare {
  device: Device;
  process: Process;
  /** Seconds of a whole GPU's time: period × the device's part of its GPU × busy ÷ processes on it. */
  gpuSeconds: number;
  /** GiB of GPU memory held × period. */
  gpuMemoryGibSeconds: number;
}

const MIB_PER_GIB = 1024;
const SECONDS_PER_HOUR = 3600;

/**
 * Each process's share of one sample. A device's time over the period is the period times its part of
 * the physical GPU (1, a MIG slice's part, or 0 for a MIG GPU's own unknown slice) times how busy it
 * was (nvidia-smi's utilization; a device that cannot say, such as a MIG device, counts as busy: its
 * slice is the agent's alone). The GPU time-slices between the processes on a device, so each gets an
 * equal part; nvidia-smi gives no per-process utilization to do better. Memory is each process's own.
 */
export function processShares(sample: Sample): ProcessShare[] {
  const periodSeconds = sample.periodMs / 1000;
  const devices = new Map(sample.devices.map((device) => [device.uuid, device]));
  const onDevice = new Map<string, number>();
  for (const process of sample.processes) onDevice.set(process.deviceUuid, (onDevice.get(process.deviceUuid) ?? 0) + 1);
  return sample.processes.map((process) => {
    const device = devices.get(process.deviceUuid)!;
    const busy = device.utilizationPercent === null ? 1 : device.utilizationPercent / 100;
    return {
      device,
      process,
      gpuSeconds: (periodSeconds * device.fraction * busy) / onDevice.get(process.deviceUuid)!,
      gpuMemoryGibSeconds: ((process.usedMemoryMib ?? 0) / MIB_PER_GIB) * periodSeconds,
    };
  });
}

/** What GPU use costs at a price, exactly, in (fractions of) mills. */
export function gpuMills(use: { gpuSeconds: number; gpuMemoryGibSeconds: number }, price: GpuPrice): number {
  return (use.gpuSeconds * price.gpuHour + use.gpuMemoryGibSeconds * price.memoryGibHour) / SECONDS_PER_HOUR;
}

/**
 * A bill's whole mills: its exact price plus what the agent's bill before carried, to the nearest mill;
 * the rest (-0.5 to 0.5 mills) is carried to its next bill. So an agent holding a little GPU memory pays
 * for it over several bills instead of never, and rounding neither gives nor takes anything over time.
 */
export function roundedBill(exactMills: number, carried: number): { cost: number; carry: number } {
  const owed = exactMills + carried;
  const cost = Math.min(MAX_TRANSFER_AMOUNT, Math.max(0, Math.round(owed)));
  return { cost, carry: owed - cost };
}
