import { Inject, Injectable } from '@nestjs/common';
import Docker from 'dockerode';
import { CONFIG, type Config } from '../config/config.js';
import type { EngineAddress, NodeRecord } from './nodes.service.js';

/** An engine that did not answer (as opposed to one that answered with an error). */
export class EngineUnreachableError extends Error {
  constructor(
    readonly node: string,
    cause: unknown,
  ) {
    super(`the Docker engine of node ${node} does not answer: ${describeDockerError(cause)}`, { cause });
    this.name = 'EngineUnreachableError';
  }
}

/** Error codes of a connection that never got an answer (socket missing, refused, timed out, cut). */
const UNREACHABLE = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'EACCES',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True for an error of the connection (no HTTP answer) rather than of the engine. */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof EngineUnreachableError) return true;
  const { code, statusCode, message } = error as { code?: string; statusCode?: number; message?: string };
  if (statusCode !== undefined) return false;
  return (code !== undefined && UNREACHABLE.has(code)) || /timeout|socket hang up|EPROTO|ssl|tls/i.test(message ?? '');
}

/** The engine's own words for an error (dockerode puts them in `json.message`), on one line. */
export function describeDockerError(error: unknown): string {
  const { json, message, code, statusCode } = error as {
    json?: { message?: string };
    message?: string;
    code?: string;
    statusCode?: number;
  };
  const text = json?.message ?? message ?? String(error);
  const prefix = statusCode ? `${statusCode} ` : code && !text.includes(code) ? `${code} ` : '';
  return `${prefix}${text}`.replace(/\s+/g, ' ').trim().slice(0, 500);
}

/**
 * One dockerode client per node engine, kept while the node's address is unchanged. Every request
 * has a deadline, so that a node that stops answering costs a timeout, not a stuck reconcile loop.
 */
@Injectable()
export class NodeEngines {
  private readonly clients = new Map<string, { address: string; docker: Docker }>();

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  /** The client of a node's engine; throws when the node has none (or its key cannot be opened). */
  client(node: NodeRecord): Docker {
    if (!node.engine) throw new Error(node.engineProblem ?? `node ${node.name} has no Docker engine registered`);
    const address = JSON.stringify(node.engine);
    const kept = this.clients.get(node.name);
    if (kept?.address === address) return kept.docker;
    const docker = new Docker({ ...dockerOptions(node.engine), timeout: this.config.VILLAGE_DOCKER_TIMEOUT_MS });
    this.clients.set(node.name, { address, docker });
    return docker;
  }
}

function dockerOptions(engine: EngineAddress): Docker.DockerOptions {
  if (engine.kind === 'socket') return { socketPath: engine.socketPath };
  return { protocol: 'https', host: engine.host, port: engine.port, ca: engine.ca, cert: engine.cert, key: engine.key };
}
