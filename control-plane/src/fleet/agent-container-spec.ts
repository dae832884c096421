// The container boundary of an agent, in one place: what Docker is asked to create for it. A pure
// function (no engine, no I/O), so every rule below is checked by unit tests and by inspecting a
// real container (control-plane/test/agent-container.e2e.test.ts). docs/SECURITY.md explains it.
import { isAbsolute, normalize } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import type { Entitlements } from '../contract/index.js';

/** Where the agent's own files live in the container (the only volume it gets). */
export const AGENT_WORKSPACE = '/workspace';
/** The directory the node's egress socket for this agent is bound at, and the socket itself. */
export const EGRESS_SOCKET_DIRECTORY = '/run/village';
export const EGRESS_SOCKET = `${EGRESS_SOCKET_DIRECTORY}/egress.sock`;
/** The runtime's loopback forwarder to that socket: the container's control plane and HTTP proxy. */
export const LOOPBACK_PROXY_URL = 'http://127.0.0.1:3128';
/** Labels that find an agent's container (the fleet, the GPU reporter mapping a container to an agent). */
export const AGENT_LABEL = 'ai-village.agent';
export const ROLE_LABEL = 'ai-village.role';
/** The village (fleet_identity) that created a container: the fleet touches only its own. */
export const VILLAGE_LABEL = 'ai-village.village';

/**
 * How the container reaches the village and the outside: the one switch for it.
 * - `egress-proxy` (the design): `--network none`, so the container has only loopback; the node's
 *   egress proxy listens on a Unix socket in `socketDirectory` (a directory per agent holding only that
 *   socket), bound at /run/village. The runtime forwards 127.0.0.1:3128 to it, and everything goes there:
 *   the control plane (origin-form requests) and the outside (absolute-form and CONNECT, allow-listed).
 * - `host`: the host's network and `villageUrl` directly. Only until the egress proxy is deployed, and
 *   for tests on one machine: the container can then reach whatever the host can.
 */
export type AgentNetwork = { mode: 'egress-proxy'; socketDirectory: string } | { mode: 'host'; villageUrl: string };

export interface AgentContainerInput {
  agentId: string;
  /** The agent's own bearer token: the only credential that enters the container. */
  token: string;
  /** The agent's tier entitlements: its CPUs and memory. */
  entitlements: Pick<Entitlements, 'cpus' | 'memoryMb'>;
  /** An absolute host directory (bind-mounted; it must exist) or a Docker volume name (created when missing), at /workspace. */
  workspace: string;
  network: AgentNetwork;
  image: string;
  /** More settings for the runtime, `VILLAGE_*` only (e.g. VILLAGE_AGENT_LOOP_MS); no secrets. */
  settings?: Record<string, string>;
  /** The node's CPUs: a tier never gets more than the machine has (Docker refuses it). */
  hostCpus?: number;
  /** Processes and threads in the container; Chromium alone runs a few hundred threads. */
  pidsLimit?: number;
  /** More labels (the fleet's village label); the spec's own role and agent labels always win. */
  labels?: Record<string, string>;
  /**
   * The node's GPUs for this container (its tier has a GPU share and the node has GPUs): all of them,
   * through the NVIDIA runtime. Docker cannot hand out a fraction of a GPU: the share is what the
   * agent is billed and scheduled by (ADR 0015), not a hard limit.
   */
  gpus?: boolean;
}

export const DEFAULT_PIDS_LIMIT = 1024;
/** Every GPU of the node, through the NVIDIA container runtime (`docker run --gpus all`). */
export const GPU_REQUEST = { Driver: 'nvidia', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} };
const MIB = 1024 * 1024;

/**
 * Capabilities root keeps in the container; every other one is dropped (Docker's default set would
 * also keep NET_RAW, NET_BIND_SERVICE, MKNOD, SYS_CHROOT, AUDIT_WRITE, SETPCAP and SETFCAP). These are
 * what `apt-get install`, `dpkg`, `chown`, `tar` and `npm` need to work as root on the container's own files:
 *   CHOWN         chown files to another user (dpkg, tar, git checkouts of packages)
 *   DAC_OVERRIDE  root reads and writes files whatever their mode (root's usual meaning; apt's _apt dirs)
 *   FOWNER        chmod/utime files it does not own (dpkg, tar, cp -p)
 *   FSETID        keep setuid/setgid bits when installing files (dpkg)
 *   SETUID/SETGID change to another user (apt drops to _apt to download; su, runuser)
 *   KILL          signal processes of those other users (the shell tool stopping what it started)
 * None of them reaches outside the container's namespaces; no-new-privileges stops a setuid binary
 * from gaining more, and nothing is privileged.
 */
export const AGENT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID'] as const;

/** Settings the spec sets itself: a caller cannot override them. */
const RESERVED_SETTINGS = new Set(['VILLAGE_URL', 'VILLAGE_AGENT_ID', 'VILLAGE_AGENT_TOKEN', 'VILLAGE_EGRESS_SOCKET']);
/** A setting named like a credential is refused: site secrets stay with the egress proxy. */
const SECRET_LIKE = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE/;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class AgentContainerSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentContainerSpecError';
  }
}

/**
 * The container name of an agent: with the village's id (its first 8 characters) when the fleet makes
 * it, because names are unique per engine and two villages (or test runs) may share one.
 */
export function agentContainerName(agentId: string, villageId?: string): string {
  return villageId ? `village-agent-${agentId}-${villageId.slice(0, 8)}` : `village-agent-${agentId}`;
}

/** The Docker volume that holds an agent's workspace on a node, this village's own. */
export function agentWorkspaceVolume(agentId: string, villageId: string): string {
  return `village-workspace-${agentId}-${villageId.slice(0, 8)}`;
}

/** What `docker.createContainer()` gets for an agent; throws AgentContainerSpecError on bad input. */
export function agentContainerSpec(input: AgentContainerInput): ContainerCreateOptions {
  const { agentId, token, entitlements, network, image } = input;
  if (!DOCKER_NAME.test(agentId) || agentId.length > 63) {
    throw new AgentContainerSpecError(`agent id "${agentId}" cannot name a container (a-z, 0-9, _ . -)`);
  }
  if (!/^\S+$/.test(token)) throw new AgentContainerSpecError('the agent token must be a non-empty word');
  if (image.trim() === '') throw new AgentContainerSpecError('an image is required');
  if (!(entitlements.cpus > 0) || !(entitlements.memoryMb >= 64)) {
    throw new AgentContainerSpecError('the tier must give at least some CPU and 64 MB of memory');
  }
  const limits = agentContainerLimits(entitlements, input.hostCpus);
  const memory = limits.Memory;

  const mounts: NonNullable<NonNullable<ContainerCreateOptions['HostConfig']>['Mounts']> = [
    workspaceMount(input.workspace),
  ];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.settings ?? {})) env[checkedSetting(name, value)] = value;
  env.VILLAGE_AGENT_ID = agentId;
  env.VILLAGE_AGENT_TOKEN = token;
  if (network.mode === 'egress-proxy') {
    mounts.push({
      Type: 'bind',
      Source: checkedHostPath(network.socketDirectory, 'the egress socket directory'),
      Target: EGRESS_SOCKET_DIRECTORY,
      ReadOnly: false,
    });
    Object.assign(env, {
      VILLAGE_URL: LOOPBACK_PROXY_URL,
      VILLAGE_EGRESS_SOCKET: EGRESS_SOCKET,
      // Both spellings: curl reads only the lower-case http_proxy, other tools the upper-case one.
      HTTP_PROXY: LOOPBACK_PROXY_URL,
      HTTPS_PROXY: LOOPBACK_PROXY_URL,
      http_proxy: LOOPBACK_PROXY_URL,
      https_proxy: LOOPBACK_PROXY_URL,
      // Loopback is the container's own (the forwarder itself, servers the agent runs).
      NO_PROXY: '127.0.0.1,localhost,::1',
      no_proxy: '127.0.0.1,localhost,::1',
    });
  } else {
    env.VILLAGE_URL = checkedUrl(network.villageUrl);
  }

  return {
    name: agentContainerName(agentId, input.labels?.[VILLAGE_LABEL]),
    Image: image,
    User: '0:0',
    // A host-network container shares the host's name; Docker refuses to set one there.
    ...(network.mode === 'egress-proxy' ? { Hostname: agentId } : {}),
    WorkingDir: AGENT_WORKSPACE,
    Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    Labels: { ...input.labels, [ROLE_LABEL]: 'agent', [AGENT_LABEL]: agentId },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    StopSignal: 'SIGTERM',
    // The runtime finishes the step in progress on SIGTERM (agent-image/src/main.ts).
    StopTimeout: 10,
    HostConfig: {
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: [...AGENT_CAPABILITIES],
      SecurityOpt: ['no-new-privileges:true'],
      NetworkMode: network.mode === 'egress-proxy' ? 'none' : 'host',
      Mounts: mounts,
      IpcMode: 'private',
      // tini as PID 1: it reaps what the shell tool leaves behind and passes signals on.
      Init: true,
      ...limits,
      // Chromium's shared memory, counted in the memory limit.
      ShmSize: Math.min(256 * MIB, Math.floor(memory / 4)),
      PidsLimit: input.pidsLimit ?? DEFAULT_PIDS_LIMIT,
      ...(input.gpus ? { DeviceRequests: [GPU_REQUEST] } : {}),
      Ulimits: [
        { Name: 'nofile', Soft: 16_384, Hard: 16_384 },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      // Under memory pressure on the node, an agent goes before the services around it.
      OomScoreAdj: 500,
      // A chatty agent cannot fill the node's disk with its output.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      // The fleet decides about restarts (a refused token must not loop).
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * The tier's CPU and memory as Docker limits: what a container is created with and what a tier change
 * updates a running one to (`docker update`). A tier never gets more CPUs than the node has.
 */
export function agentContainerLimits(
  entitlements: Pick<Entitlements, 'cpus' | 'memoryMb'>,
  hostCpus?: number | null,
): { NanoCpus: number; Memory: number; MemorySwap: number } {
  const cpus = Math.min(entitlements.cpus, hostCpus ?? Number.POSITIVE_INFINITY);
  const memory = entitlements.memoryMb * MIB;
  // No swap beyond the memory limit.
  return { NanoCpus: Math.round(cpus * 1e9), Memory: memory, MemorySwap: memory };
}

function workspaceMount(workspace: string) {
  if (workspace.startsWith('/')) {
    return { Type: 'bind' as const, Source: checkedHostPath(workspace, 'the workspace'), Target: AGENT_WORKSPACE };
  }
  if (!DOCKER_NAME.test(workspace)) {
    throw new AgentContainerSpecError(`workspace "${workspace}" is neither an absolute path nor a volume name`);
  }
  return { Type: 'volume' as const, Source: workspace, Target: AGENT_WORKSPACE };
}

/** A host directory to bind: absolute, normalised, and never the host's root. */
function checkedHostPath(path: string, what: string): string {
  if (!isAbsolute(path) || normalize(path) !== path || path === '/') {
    throw new AgentContainerSpecError(`${what} must be an absolute, normalised directory other than /: "${path}"`);
  }
  return path;
}

function checkedUrl(url: string): string {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new AgentContainerSpecError(`the village URL must be http(s): "${url}"`);
  }
  return url;
}

function checkedSetting(name: string, value: string): string {
  if (!/^VILLAGE_[A-Z0-9_]+$/.test(name)) {
    throw new AgentContainerSpecError(`setting ${name}: only VILLAGE_* settings enter an agent container`);
  }
  if (RESERVED_SETTINGS.has(name)) throw new AgentContainerSpecError(`setting ${name} is set by the fleet itself`);
  if (SECRET_LIKE.test(name)) {
    throw new AgentContainerSpecError(`setting ${name} looks like a secret: secrets stay with the egress proxy`);
  }
  if (/[\0\n\r]/.test(value)) throw new AgentContainerSpecError(`setting ${name} must be one line`);
  return name;
}
