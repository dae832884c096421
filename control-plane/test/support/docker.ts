// The real Docker engine for the tests and the benchmark: reach it, build the agent image (once per
// run, and not at all when an image with the same content hash exists: agent-image/docker/build-image.mjs
// decides), and run, read and remove agent containers through dockerode. `npm test` starts the engine
// (scripts/ensure-system-deps.mjs); a test that needs it fails with a message saying so when it is away.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { agentContainerSpec, type AgentContainerInput } from '../../src/fleet/agent-container-spec.js';

/** Compiled location: control-plane/dist/test/support/ → the repository root. */
const REPOSITORY = fileURLToPath(new URL('../../../../', import.meta.url));
const BUILD_IMAGE = `${REPOSITORY}agent-image/docker/build-image.mjs`;

/** Every container the tests start carries this label, with the id of the process that started it. */
export const TEST_RUN_LABEL = 'ai-village.test-run';

export interface BuiltImage {
  reference: string;
  /** False when an image with the same content hash was there already. */
  built: boolean;
  /** How long the build took (0 when nothing was built). */
  seconds: number;
}

/** The engine, checked to answer. */
export async function connectDocker(): Promise<Docker> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (error) {
    throw new Error(
      `no Docker engine answers on ${process.env.DOCKER_HOST ?? '/var/run/docker.sock'} (${String(error)}); ` +
        '`npm test` starts one: node scripts/ensure-system-deps.mjs test',
      { cause: error },
    );
  }
  return docker;
}

let defaultImage: Promise<BuiltImage> | undefined;

/**
 * The agent image of the current build (npm run build first), from the local base. Without options
 * it is built at most once per process (`recheck` runs the build script again, which finds the image by
 * its content hash); `force` rebuilds through Docker's layer cache, `noCache` without it (the
 * benchmark's cached and uncached build times).
 */
export function agentImage(
  options: { force?: boolean; noCache?: boolean; recheck?: boolean } = {},
): Promise<BuiltImage> {
  if (options.recheck) return buildAgentImage([]);
  if (!options.force && !options.noCache) return (defaultImage ??= buildAgentImage([]));
  return buildAgentImage([...(options.force ? ['--force'] : []), ...(options.noCache ? ['--no-cache'] : [])]);
}

function buildAgentImage(flags: string[]): Promise<BuiltImage> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILD_IMAGE, '--json', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
      if (process.env.TEST_DOCKER_VERBOSE === '1') process.stderr.write(chunk);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').pop()!) as BuiltImage);
      else reject(new Error(`building the agent image failed (exit ${code}):\n${stderr}`));
    });
  });
}

export interface AgentContainer {
  readonly id: string;
  readonly container: Docker.Container;
  /** When `start()` was called (ms since the epoch). */
  readonly startedAt: number;
  inspect(): Promise<Docker.ContainerInspectInfo>;
  /** What the agent wrote so far (stdout and stderr, in order). */
  logs(): Promise<string>;
  /** Runs a command in the container as its root user; resolves with its exit code and output. */
  exec(command: string[]): Promise<{ exitCode: number; output: string }>;
  /** Stops it (SIGTERM, then SIGKILL after `timeoutS`) and waits for the exit code. */
  stop(timeoutS?: number): Promise<number>;
  /** Removes it, running or not, with its anonymous volumes. */
  remove(): Promise<void>;
}

/**
 * Creates and starts an agent container from the fleet's own spec, labelled as this test run's.
 * `entrypoint` replaces the runtime (e.g. `['sleep', 'infinity']`) for a test of the boundary alone.
 */
export async function runAgentContainer(
  docker: Docker,
  input: AgentContainerInput,
  options: { name?: string; entrypoint?: string[] } = {},
): Promise<AgentContainer> {
  const spec = agentContainerSpec(input);
  const container = await docker.createContainer({
    ...spec,
    ...(options.name ? { name: options.name } : {}),
    ...(options.entrypoint ? { Entrypoint: options.entrypoint } : {}),
    Labels: { ...spec.Labels, [TEST_RUN_LABEL]: String(process.pid) },
  });
  const startedAt = Date.now();
  await container.start();
  return wrap(container, startedAt);
}

function wrap(container: Docker.Container, startedAt: number): AgentContainer {
  return {
    id: container.id,
    container,
    startedAt,
    inspect: () => container.inspect(),
    logs: async () => demultiplex(await container.logs({ stdout: true, stderr: true, follow: false })),
    async exec(command) {
      const exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true, User: '0:0' });
      const stream = await exec.start({ hijack: true, stdin: false });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      await new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', reject);
      });
      const { ExitCode } = await exec.inspect();
      return { exitCode: ExitCode ?? -1, output: demultiplex(Buffer.concat(chunks)) };
    },
    async stop(timeoutS = 10) {
      await container.stop({ t: timeoutS }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 304) throw error; // 304: not running any more
      });
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      return StatusCode;
    },
    async remove() {
      await container.remove({ force: true, v: true }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
    },
  };
}

/** Removes every container this process started (a test's `after`, even when the test failed half way). */
export async function removeTestContainers(docker: Docker): Promise<void> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${TEST_RUN_LABEL}=${process.pid}`] },
  });
  await Promise.all(containers.map((info) => docker.getContainer(info.Id).remove({ force: true, v: true })));
}

/**
 * Docker's log and exec streams without a TTY are frames: a header (stream type, 3 zero bytes,
 * 4-byte big-endian length) and that many bytes.
 */
export function demultiplex(buffer: Buffer | string): string {
  if (typeof buffer === 'string') return buffer;
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}
