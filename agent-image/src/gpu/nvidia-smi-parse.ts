// A typed parser of nvidia-smi's CSV queries (`--format=csv,noheader,nounits`) and of its device list
// (`-L`), tested on recorded outputs (agent-image/test/fixtures/nvidia-smi). Every line is checked:
// a line that does not have the asked columns, or a value that is not what the column holds, is left
// out and named in `problems`, never guessed at. nvidia-smi writes a value it cannot give in brackets
// ([N/A], [Not Supported], [Unknown Error], [Insufficient Permissions], ...): that is null where the
// column may be unknown, and a problem where it may not (an index, a UUID, a PID).

/** `--query-gpu` columns, in this order. */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'mig.mode.current',
] as const;
/** `--query-compute-apps` columns, in this order. */
export const COMPUTE_APP_QUERY_FIELDS = ['gpu_uuid', 'pid', 'used_memory'] as const;

export interface SmiGpu {
  index: number;
  uuid: string;
  name: string;
  memoryTotalMib: number | null;
  memoryUsedMib: number | null;
  utilizationPercent: number | null;
  /** True when the GPU is split into MIG devices (then it has no utilization of its own). */
  mig: boolean;
}

export interface SmiComputeApp {
  /** The GPU's UUID (a MIG device's, on drivers that name it). */
  gpuUuid: string;
  pid: number;
  usedMemoryMib: number | null;
}

export interface SmiMigDevice {
  gpuIndex: number;
  gpuUuid: string;
  /** MIG's own index of the device on its GPU (`Device 0`). */
  index: number;
  uuid: string;
  /** The profile, e.g. `1g.10gb`, `3g.40gb`, `1g.12gb+me`. */
  profile: string;
  /** Compute slices it has (the `1` of `1g.10gb`). */
  slices: number;
}

export interface Parsed<T> {
  rows: T[];
  /** One sentence per line left out, with its line number. */
  problems: string[];
}

const GPU_UUID = /^GPU-[0-9a-fA-F-]{8,}$/;
const ANY_UUID = /^(GPU|MIG)-[A-Za-z0-9/-]{8,}$/;
const UNAVAILABLE = /^\[[^\]]*\]$/;

class CellError extends Error {}

function unavailable(cell: string): boolean {
  return UNAVAILABLE.test(cell);
}

function wholeNumber(cell: string, column: string, optional: boolean, max = Number.MAX_SAFE_INTEGER): number | null {
  if (unavailable(cell)) {
    if (optional) return null;
    throw new CellError(`${column} is ${cell}`);
  }
  if (!/^\d+$/.test(cell) || Number(cell) > max) throw new CellError(`${column} "${cell}" is not a whole number`);
  return Number(cell);
}

function matching(cell: string, column: string, pattern: RegExp): string {
  if (!pattern.test(cell)) throw new CellError(`${column} "${cell}" is not a ${column}`);
  return cell;
}

/** The lines of an output, with their numbers, blank ones left out. */
function lines(text: string): { number: number; line: string }[] {
  return text
    .split(/\r?\n/)
    .map((line, index) => ({ number: index + 1, line: line.trim() }))
    .filter(({ line }) => line !== '');
}

function parseCsv<T>(text: string, columns: readonly string[], toRow: (cells: string[]) => T): Parsed<T> {
  const parsed: Parsed<T> = { rows: [], problems: [] };
  for (const { number, line } of lines(text)) {
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length !== columns.length) {
      parsed.problems.push(
        `line ${number}: ${cells.length} columns, expected ${columns.length} (${columns.join(', ')}): "${clip(line)}"`,
      );
      continue;
    }
    try {
      parsed.rows.push(toRow(cells));
    } catch (error) {
      if (!(error instanceof CellError)) throw error;
      parsed.problems.push(`line ${number}: ${error.message}: "${clip(line)}"`);
    }
  }
  return parsed;
}

/** `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits`. */
export function parseGpuQuery(text: string): Parsed<SmiGpu> {
  return parseCsv(text, GPU_QUERY_FIELDS, ([index, uuid, name, total, used, utilization, mig]) => {
    // Checked in column order, so a problem names the first column that is wrong.
    const row = {
      index: wholeNumber(index!, 'index', false, 1023)!,
      uuid: matching(uuid!, 'GPU UUID', GPU_UUID),
      name: name!,
      memoryTotalMib: wholeNumber(total!, 'memory.total', true),
      memoryUsedMib: wholeNumber(used!, 'memory.used', true),
      utilizationPercent: wholeNumber(utilization!, 'utilization.gpu', true, 100),
      mig: mig === 'Enabled',
    };
    if (row.name === '' || unavailable(row.name)) throw new CellError(`name is "${row.name}"`);
    if (!unavailable(mig!) && mig !== 'Enabled' && mig !== 'Disabled') {
      throw new CellError(`mig.mode.current "${mig}" is neither Enabled nor Disabled`);
    }
    return row;
  });
}

/** `nvidia-smi --query-compute-apps=<COMPUTE_APP_QUERY_FIELDS> --format=csv,noheader,nounits`. */
export function parseComputeApps(text: string): Parsed<SmiComputeApp> {
  // With no compute processes, some drivers print this line instead of nothing.
  const body = text.replace(/^\s*No running processes found\s*$/m, '');
  return parseCsv(body, COMPUTE_APP_QUERY_FIELDS, ([uuid, pid, used]) => {
    const number = wholeNumber(pid!, 'pid', false, 4_194_304)!;
    if (number === 0) throw new CellError('pid is 0');
    return {
      gpuUuid: matching(uuid!, 'GPU UUID', ANY_UUID),
      pid: number,
      usedMemoryMib: wholeNumber(used!, 'used_memory', true),
    };
  });
}

const LIST_GPU = /^GPU (\d+): (.+) \(UUID: (GPU-[0-9a-fA-F-]+)\)$/;
const LIST_MIG = /^MIG (\d+)g\.(\S+)\s+Device\s+(\d+): \(UUID: (MIG-[A-Za-z0-9/-]+)\)$/;

/** `nvidia-smi -L`: the GPUs and, under a GPU in MIG mode, its MIG devices. */
export function parseGpuList(text: string): Parsed<SmiMigDevice> {
  const parsed: Parsed<SmiMigDevice> = { rows: [], problems: [] };
  let gpu: { index: number; uuid: string } | undefined;
  for (const { number, line } of lines(text)) {
    const whole = LIST_GPU.exec(line);
    if (whole) {
      gpu = { index: Number(whole[1]), uuid: whole[3]! };
      continue;
    }
    const mig = LIST_MIG.exec(line);
    if (mig && gpu) {
      parsed.rows.push({
        gpuIndex: gpu.index,
        gpuUuid: gpu.uuid,
        index: Number(mig[3]),
        uuid: mig[4]!,
        profile: `${mig[1]}g.${mig[2]}`,
        slices: Number(mig[1]),
      });
      continue;
    }
    parsed.problems.push(`line ${number}: not a GPU or MIG device of nvidia-smi -L: "${clip(line)}"`);
  }
  return parsed;
}

/**
 * The compute slices a GPU in MIG mode is cut into (NVIDIA's MIG user guide): 4 on an A30, 7 on the
 * A100, H100, H200 and B200. A slice's part of its GPU is its slices over these.
 */
export function migSlicesOf(gpuName: string): number {
  return /\bA30\b/.test(gpuName) ? 4 : 7;
}

function clip(line: string): string {
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
