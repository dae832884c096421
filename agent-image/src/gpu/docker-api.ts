// Just enough of the Docker Engine API for the GPU reporter, over the node's Unix socket: which
// containers are agents' (their `ai-village.agent` label) and which GPU devices a container was given.
// No client library: two GET requests, parsed and checked here.
import http from 'node:http';

export interface AgentContainerInfo {
  id: string;
  /** The `ai-village.agent` label. */
  agentId: string;
}

export interface ContainerDevices {
  /** GPU devices the container was given: UUIDs (`GPU-…`, `MIG-…`), indexes (`0`) or `<gpu>:<mig>` (`0:1`). */
  gpus: string[];
}

export class DockerApiError extends Error {}

/** `unix:///var/run/docker.sock` (or a bare path) → the socket path; other schemes are refused. */
export function dockerSocketPath(dockerHost: string | undefined): string {
  if (!dockerHost) return '/var/run/docker.sock';
  if (dockerHost.startsWith('unix://')) return dockerHost.slice('unix://'.length);
  if (dockerHost.startsWith('/')) return dockerHost;
  throw new DockerApiError(
    `DOCKER_HOST ${dockerHost}: the GPU reporter talks to the node's own engine over a unix:// socket`,
  );
}

export class DockerApi {
  constructor(
    readonly socketPath = '/var/run/docker.sock',
    private readonly timeoutMs = 5_000,
  ) {}

  /** Every container with the label, running or not, and the label's value. */
  async labelledContainers(label: string): Promise<AgentContainerInfo[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
    const body = await this.get(`/containers/json?all=true&filters=${filters}`);
    if (!Array.isArray(body)) throw new DockerApiError('the container list is not a list');
    return body.flatMap((item: unknown) => {
      const { Id, Labels } = (item ?? {}) as { Id?: unknown; Labels?: Record<string, unknown> | null };
      const agentId = Labels?.[label];
      return typeof Id === 'string' && typeof agentId === 'string' && agentId !== '' ? [{ id: Id, agentId }] : [];
    });
  }

  /** The GPUs a container was given: its device requests' ids, or else NVIDIA_VISIBLE_DEVICES. */
  async devicesOf(id: string): Promise<ContainerDevices> {
    const body = (await this.get(`/containers/${encodeURIComponent(id)}/json`)) as {
      Config?: { Env?: unknown };
      HostConfig?: { DeviceRequests?: unknown };
    } | null;
    const gpus: string[] = [];
    const requests = Array.isArray(body?.HostConfig?.DeviceRequests) ? body.HostConfig.DeviceRequests : [];
    for (const request of requests as { DeviceIDs?: unknown }[]) {
      if (Array.isArray(request?.DeviceIDs))
        gpus.push(...request.DeviceIDs.filter((d): d is string => typeof d === 'string'));
    }
    if (gpus.length === 0 && Array.isArray(body?.Config?.Env)) {
      const visible = (body.Config.Env as unknown[]).find(
        (entry): entry is string => typeof entry === 'string' && entry.startsWith('NVIDIA_VISIBLE_DEVICES='),
      );
      if (visible)
        gpus.push(
          ...visible
            .slice('NVIDIA_VISIBLE_DEVICES='.length)
            .split(',')
            .map((d) => d.trim()),
        );
    }
    return { gpus: gpus.filter((gpu) => gpu !== '' && gpu !== 'all' && gpu !== 'none' && gpu !== 'void') };
  }

  private get(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const request = http.get(
        { socketPath: this.socketPath, path, headers: { host: 'docker' }, timeout: this.timeoutMs },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            if (response.statusCode !== 200) {
              return reject(
                new DockerApiError(`Docker answered ${response.statusCode} to GET ${path}: ${text.slice(0, 200)}`),
              );
            }
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new DockerApiError(`Docker's answer to GET ${path} is not JSON`));
            }
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () =>
        request.destroy(new DockerApiError(`Docker did not answer GET ${path} within ${this.timeoutMs} ms`)),
      );
      request.on('error', (error) =>
        reject(
          error instanceof DockerApiError
            ? error
            : new DockerApiError(`cannot reach Docker at ${this.socketPath}: ${error.message}`),
        ),
      );
    });
  }
}
