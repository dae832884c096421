import { chmod, mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import {
  egressHostAllowed,
  egressHostNamedExactly,
  type EgressPolicy,
  type EgressRequestReport,
} from '@ai-village/control-plane/contract';
import { isLoopbackAddress, pinnedLookup, resolveForEgress, type ResolvedHost } from './address-guard.js';
import type { EgressPolicies } from './egress-policies.js';
import type { EgressReporter } from './egress-reporter.js';

/** Headers that describe one hop, not the request: never forwarded (RFC 9110 §7.6.1), plus the proxy's own. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface EgressProxyOptions {
  /** The control plane, reached by the proxy directly; origin-form requests (`GET /api/...`) go there. */
  controlPlaneUrl: string;
  policies: EgressPolicies;
  reporter: EgressReporter;
  /** A request (or tunnel) with no bytes either way for this long is cut. */
  idleTimeoutMs?: number;
  onProblem?: (message: string, fields: Record<string, unknown>) => void;
}

/** What the proxy tells an agent's tool when it refuses: a header to tell it from the upstream's own 403. */
export const REFUSED_HEADER = 'x-village-egress';

interface Outbound {
  agentId: string;
  method: string;
  scheme: 'http' | 'https' | 'connect';
  host: string;
  port: number;
  path: string;
  startedAt: Date;
}

/**
 * A node's egress proxy: the only way out of an agent container. Each agent gets its own Unix socket
 * (bind-mounted into its container, which has no network), so the proxy knows who speaks without
 * trusting anything the agent sends. Per socket:
 * - origin-form requests (`GET /api/...`) go to the control plane, unlogged (the agent's own token
 *   authenticates them there);
 * - absolute-form requests (`GET https://host/...`) and CONNECT tunnels go out when the agent's tier
 *   allows the host, with the site's secrets for that host added to absolute-form requests (the proxy
 *   speaks TLS upstream itself, so the secret never passes through the container); every one, allowed or
 *   refused, is reported to the control plane's log.
 */
export class EgressProxy {
  private readonly servers = new Map<string, { server: http.Server; path: string }>();
  private readonly controlPlane: URL;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: EgressProxyOptions) {
    this.controlPlane = new URL(options.controlPlaneUrl);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
  }

  get agents(): string[] {
    return [...this.servers.keys()];
  }

  /** Opens the agent's socket at `path` (its directory is created; a stale socket file is replaced). */
  async open(agentId: string, path: string): Promise<void> {
    if (this.servers.has(agentId)) return;
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
    const server = http.createServer((request, response) => void this.onRequest(agentId, request, response));
    server.on(
      'connect',
      (request: http.IncomingMessage, socket: Duplex, head: Buffer) =>
        void this.onConnect(agentId, request, socket, head),
    );
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    // The container's root must be able to connect whatever its uid mapping; only this agent's
    // container has the directory mounted.
    await chmod(path, 0o666);
    this.servers.set(agentId, { server, path });
  }

  async close(agentId: string): Promise<void> {
    const entry = this.servers.get(agentId);
    if (!entry) return;
    this.servers.delete(agentId);
    this.options.policies.forget(agentId);
    entry.server.closeAllConnections();
    await new Promise<void>((resolve) => entry.server.close(() => resolve()));
    await rm(entry.path, { force: true });
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.agents.map((agentId) => this.close(agentId)));
  }

  private async onRequest(agentId: string, request: http.IncomingMessage, response: http.ServerResponse) {
    const target = request.url ?? '/';
    if (target.startsWith('/')) return this.toControlPlane(request, response);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return refuse(response, 400, `"${target.slice(0, 200)}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return refuse(response, 400, `only http and https go out, not ${url.protocol.replace(/:$/, '')}`);
    }
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const outbound: Outbound = {
      agentId,
      method: request.method ?? 'GET',
      scheme,
      host: url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(),
      port: Number(url.port || (scheme === 'https' ? 443 : 80)),
      // The path without its query: queries often carry keys that do not belong in a log.
      path: url.pathname,
      startedAt: new Date(),
    };
    const decision = await this.decide(outbound);
    if ('refused' in decision) {
      this.log(outbound, { allowed: false, reason: decision.refused, status: 403 });
      return refuse(response, 403, decision.refused);
    }
    this.forward(outbound, url, decision, request, response);
  }

  private forward(
    outbound: Outbound,
    url: URL,
    { policy, address }: { policy: EgressPolicy; address: ResolvedHost },
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ) {
    const headers = forwardHeaders(request.headers);
    // A secret rides only over TLS, or to a loopback address, where nobody on the wire can read it.
    const secret =
      outbound.scheme === 'https' || address.addresses.every((candidate) => isLoopbackAddress(candidate.address))
        ? policy.secrets.find((candidate) => candidate.host === outbound.host)
        : undefined;
    if (secret) {
      for (const name of Object.keys(headers))
        if (name.toLowerCase() === secret.header.toLowerCase()) delete headers[name];
      headers[secret.header] = secret.value;
    }
    headers.host = url.host;
    let bytesOut = 0;
    let bytesIn = 0;
    let finished = false;
    const done = (status: number, reason: string | null) => {
      if (finished) return;
      finished = true;
      this.log(outbound, { allowed: true, reason, status, bytesOut, bytesIn, secretId: secret?.id ?? null });
    };
    const transport = outbound.scheme === 'https' ? https : http;
    const upstream = transport.request({
      host: outbound.host,
      // Node tries the addresses in turn (autoSelectFamily is on by default since Node 20).
      lookup: pinnedLookup(address),
      port: outbound.port,
      method: outbound.method,
      path: `${url.pathname}${url.search}`,
      headers,
      timeout: this.idleTimeoutMs,
    });
    request.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    request.pipe(upstream);
    upstream.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardHeaders(answer.headers));
      answer.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
      answer.pipe(response);
      answer.on('end', () => done(answer.statusCode ?? 0, null));
      answer.on('error', (error) => done(answer.statusCode ?? 0, `the upstream broke off: ${error.message}`));
    });
    upstream.on('timeout', () =>
      upstream.destroy(new Error(`no answer from ${outbound.host} in ${this.idleTimeoutMs} ms`)),
    );
    upstream.on('error', (error) => {
      const reason = `could not reach ${outbound.host}:${outbound.port}: ${error.message}`;
      done(response.headersSent ? response.statusCode : 502, reason);
      if (!response.headersSent) refuse(response, 502, reason, false);
      else response.destroy();
    });
    response.on('close', () => {
      if (!finished) {
        upstream.destroy();
        done(response.headersSent ? response.statusCode : 0, 'the agent went away');
      }
    });
  }

  private async onConnect(agentId: string, request: http.IncomingMessage, socket: Duplex, head: Buffer) {
    const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(request.url ?? '');
    const outbound: Outbound = {
      agentId,
      method: 'CONNECT',
      scheme: 'connect',
      host: (match?.[1] ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase(),
      port: Number(match?.[2] ?? 0),
      path: '',
      startedAt: new Date(),
    };
    if (!match) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\r\nCONNECT needs host:port\n');
      return;
    }
    const decision = await this.decide(outbound);
    if ('refused' in decision) {
      this.log(outbound, { allowed: false, reason: decision.refused, status: 403 });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\n${REFUSED_HEADER}: refused\r\ncontent-type: text/plain\r\n\r\n${decision.refused}\n`,
      );
      return;
    }
    let bytesOut = head.length;
    let bytesIn = 0;
    let status = 0;
    let reason: string | null = null;
    const upstream = net.connect({
      host: outbound.host,
      port: outbound.port,
      lookup: pinnedLookup(decision.address),
      autoSelectFamily: true,
    });
    upstream.setTimeout(this.idleTimeoutMs, () => upstream.destroy(new Error('idle too long')));
    upstream.once('connect', () => {
      status = 200;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    socket.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    upstream.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    upstream.on('error', (error) => {
      reason = `could not reach ${outbound.host}:${outbound.port}: ${error.message}`;
      if (status === 0) {
        status = 502;
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\n${reason}\n`);
      } else socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      socket.destroy();
      this.log(outbound, { allowed: true, reason, status, bytesOut, bytesIn });
    });
  }

  /** The agent's tier allows the host, and it resolves to an address the agent may reach. */
  private async decide(
    outbound: Outbound,
  ): Promise<{ policy: EgressPolicy; address: ResolvedHost } | { refused: string }> {
    const policy = await this.options.policies.of(outbound.agentId);
    if ('unavailable' in policy) return { refused: policy.unavailable };
    if (!egressHostAllowed(policy.hosts, outbound.host, outbound.port)) {
      return {
        refused: `${outbound.host}:${outbound.port} is not on the egress allow-list of tier ${policy.tier.level} (${policy.tier.name})`,
      };
    }
    const address = await resolveForEgress(outbound.host, egressHostNamedExactly(policy.hosts, outbound.host));
    if (typeof address === 'string') return { refused: address };
    return { policy, address };
  }

  /** Origin-form requests are the agent's calls to the control plane, passed through as they are. */
  private toControlPlane(request: http.IncomingMessage, response: http.ServerResponse) {
    const transport = this.controlPlane.protocol === 'https:' ? https : http;
    const headers = forwardHeaders(request.headers);
    headers.host = this.controlPlane.host;
    const upstream = transport.request(new URL(request.url ?? '/', this.controlPlane), {
      method: request.method,
      headers,
    });
    request.pipe(upstream);
    upstream.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardHeaders(answer.headers));
      answer.pipe(response);
    });
    upstream.on('error', (error) => {
      this.options.onProblem?.('the control plane did not answer a request passed through', { error: error.message });
      if (!response.headersSent) refuse(response, 502, `the control plane did not answer: ${error.message}`, false);
      else response.destroy();
    });
    response.on('close', () => upstream.destroy());
  }

  private log(
    outbound: Outbound,
    result: Pick<EgressRequestReport, 'allowed' | 'reason' | 'status'> &
      Partial<Pick<EgressRequestReport, 'bytesOut' | 'bytesIn' | 'secretId'>>,
  ) {
    this.options.reporter.report({
      agentId: outbound.agentId,
      method: outbound.method,
      scheme: outbound.scheme,
      host: outbound.host || '(none)',
      port: outbound.port,
      path: outbound.path.slice(0, 2048),
      allowed: result.allowed,
      reason: result.reason ?? null,
      status: result.status,
      bytesOut: result.bytesOut ?? 0,
      bytesIn: result.bytesIn ?? 0,
      secretId: result.secretId ?? null,
      durationMs: Math.max(0, Date.now() - outbound.startedAt.getTime()),
      startedAt: outbound.startedAt.toISOString(),
    });
  }
}

function forwardHeaders(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_HEADERS.has(name) || named.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}

/** A refusal the agent's tool can read: JSON with the reason, marked as the proxy's own answer. */
function refuse(response: http.ServerResponse, status: number, message: string, byPolicy = true) {
  if (response.headersSent) return void response.destroy();
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(byPolicy ? { [REFUSED_HEADER]: 'refused' } : { [REFUSED_HEADER]: 'failed' }),
  });
  response.end(JSON.stringify({ error: byPolicy ? 'egress_refused' : 'egress_failed', message }));
}
