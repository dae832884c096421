#!/usr/bin/env node
// The node's GPU reporter daemon (`village-gpu-reporter`): reads nvidia-smi every period, maps each GPU
// process's host PID to its container and the container to its agent, and reports the samples to the
// control plane, which bills each agent's GPU share. Runs on the host (or in a container with the
// host's PID namespace, /proc and Docker socket). Settings from the environment:
//   VILLAGE_URL                    the control plane (reached from the node directly)
//   VILLAGE_NODE_TOKEN             the node's token (`POST /api/nodes` shows it once)
//   VILLAGE_GPU_PERIOD_MS          how often to sample (default 10000; at least 1000)
//   VILLAGE_NVIDIA_SMI             the nvidia-smi program (default: nvidia-smi on PATH)
//   VILLAGE_NVIDIA_SMI_TIMEOUT_MS  how long one nvidia-smi run may take (default 5000, below the period)
//   VILLAGE_GPU_PROC_ROOT          where the host's /proc is (default /proc)
//   DOCKER_HOST                    the node's engine (default unix:///var/run/docker.sock)
import { VillageClient } from '@ai-village/control-plane/contract';
import { ContainerDirectory } from './container-directory.js';
import { DockerApi, dockerSocketPath } from './docker-api.js';
import { GpuReporter } from './gpu-reporter.js';
import { GpuSampler } from './gpu-sampler.js';
import { NvidiaSmi } from './nvidia-smi.js';
import { readReporterSettings } from './reporter-settings.js';

const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) =>
  (level === 'info' ? process.stdout : process.stderr).write(
    `${JSON.stringify({ at: new Date().toISOString(), level, component: 'gpu-reporter', message, ...fields })}\n`,
  );

let settings;
try {
  settings = readReporterSettings(process.env);
} catch (error) {
  log('error', error instanceof Error ? error.message : String(error));
  process.exit(1);
}

const reporter = new GpuReporter({
  client: new VillageClient({ baseUrl: settings.controlPlaneUrl, token: settings.nodeToken }),
  sampler: new GpuSampler({
    smi: new NvidiaSmi({ path: settings.nvidiaSmi, timeoutMs: settings.nvidiaSmiTimeoutMs }),
    directory: new ContainerDirectory(new DockerApi(dockerSocketPath(settings.dockerHost))),
    procRoot: settings.procRoot,
  }),
  periodMs: settings.periodMs,
  log,
});
reporter.start();
log('info', 'GPU reporter running', {
  periodMs: settings.periodMs,
  nvidiaSmi: settings.nvidiaSmi,
  controlPlane: settings.controlPlaneUrl,
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // What is queued gets one chance to go out; a stop never waits longer than a few seconds for it.
    const exit = setTimeout(() => process.exit(0), 5_000);
    exit.unref();
    void reporter.stop().finally(() => process.exit(0));
  });
}
