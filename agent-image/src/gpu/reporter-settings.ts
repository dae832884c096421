// The GPU reporter's settings, from the environment, checked once at start: a bad value stops it with
// a message naming the variable.
import { z } from 'zod';

const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const milliseconds = (least: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a whole number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(least, `must be at least ${least}`)
      .max(600_000, 'must be at most 600000')
      .default(fallback),
  );

const SettingsSchema = z
  .object({
    VILLAGE_URL: z.preprocess(
      unsetIfEmpty,
      z.url({ protocol: /^https?$/, error: 'must be the control plane URL, http(s)://…' }),
    ),
    VILLAGE_NODE_TOKEN: z.preprocess(
      unsetIfEmpty,
      z.string({ error: "is required: the node's token (vnt_…), shown once by POST /api/nodes" }).trim(),
    ),
    VILLAGE_GPU_PERIOD_MS: milliseconds(1_000, 10_000),
    VILLAGE_NVIDIA_SMI: z.preprocess(unsetIfEmpty, z.string().default('nvidia-smi')),
    VILLAGE_NVIDIA_SMI_TIMEOUT_MS: milliseconds(100, 5_000),
    VILLAGE_GPU_PROC_ROOT: z.preprocess(
      unsetIfEmpty,
      z.string().startsWith('/', 'must be an absolute path').default('/proc'),
    ),
    DOCKER_HOST: z.preprocess(unsetIfEmpty, z.string().optional()),
  })
  .refine((settings) => settings.VILLAGE_NVIDIA_SMI_TIMEOUT_MS < settings.VILLAGE_GPU_PERIOD_MS, {
    message: 'must be shorter than VILLAGE_GPU_PERIOD_MS, or samples would pile up',
    path: ['VILLAGE_NVIDIA_SMI_TIMEOUT_MS'],
  });

export interface ReporterSettings {
  controlPlaneUrl: string;
  nodeToken: string;
  periodMs: number;
  nvidiaSmi: string;
  nvidiaSmiTimeoutMs: number;
  procRoot: string;
  dockerHost: string | undefined;
}

export function readReporterSettings(env: Record<string, string | undefined>): ReporterSettings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `bad GPU reporter settings: ${parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`,
    );
  }
  const s = parsed.data;
  return {
    controlPlaneUrl: s.VILLAGE_URL,
    nodeToken: s.VILLAGE_NODE_TOKEN,
    periodMs: s.VILLAGE_GPU_PERIOD_MS,
    nvidiaSmi: s.VILLAGE_NVIDIA_SMI,
    nvidiaSmiTimeoutMs: s.VILLAGE_NVIDIA_SMI_TIMEOUT_MS,
    procRoot: s.VILLAGE_GPU_PROC_ROOT,
    dockerHost: s.DOCKER_HOST,
  };
}
