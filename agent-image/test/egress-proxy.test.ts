// The node's egress proxy against the real control plane: per-agent Unix sockets, the tier's allow-list,
// brokered secrets injected on the way out, CONNECT tunnels, the pass-through to the control plane, and
// every outbound request in the control plane's log. The "outside" is two loopback servers; the
// container side (no network, the socket mounted) is exercised by the Docker test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VillageApiError, VillageClient, type TierPolicyRequest } from '@ai-village/control-plane/contract';
import { EgressNode, agentSocketPath } from '../src/egress/egress-node.js';
import { startLoopbackForwarder } from '../src/egress/loopback-forwarder.js';
import { REFUSED_HEADER } from '../src/egress/egress-proxy.js';
import { startControlPlane, type ControlPlane } from './control-plane-process.js';

const SECRET = 'ghp_brokered-secret-the-agent-never-sees';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A loopback "site" that records what reached it. */
async function site(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((request, response) => {
    seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    request.resume();
    request.on('end', () => response.end(`hello from ${request.url}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request through a socket (or a loopback port), in proxy form when `target` is absolute. */
function viaProxy(
  to: { socketPath: string } | { port: number },
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { ...('port' in to ? { host: '127.0.0.1', port: to.port } : to), path: target, method, headers },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A CONNECT tunnel, then one plain HTTP request through it. */
function throughTunnel(socketPath: string, authority: string): Promise<{ connect: number; answer?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, method: 'CONNECT', path: authority });
    request.on('connect', (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        return resolve({ connect: response.statusCode ?? 0 });
      }
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve({ connect: 200, answer: text }));
      socket.write(`GET /tunnelled HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the egress proxy', { timeout: 60_000 }, () => {
  let village: ControlPlane;
  let allowed: Awaited<ReturnType<typeof site>>;
  let forbidden: Awaited<ReturnType<typeof site>>;
  let socketDir: string;
  let node: EgressNode;
  let nodeToken: string;
  let ada: { id: string; token: string };
  let bo: { id: string; token: string };

  before(async () => {
    village = await startControlPlane({ env: { VILLAGE_SECRETS_KEY: 'egress-test-secrets-key-0123456789abcdef' } });
    [allowed, forbidden] = await Promise.all([site(), site()]);
    const policy = await village.admin.tierPolicy();
    const tiers: TierPolicyRequest['tiers'] = policy.tiers.map((tier) => ({
      ...tier,
      // The commons may reach one loopback port (named exactly); tier 1 anything public (`*`).
      entitlements: { ...tier.entitlements, egressHosts: tier.level === 0 ? [`127.0.0.1:${allowed.port}`] : ['*'] },
    }));
    await village.admin.setTierPolicy({ hysteresis: policy.hysteresis, tiers });
    ada = await village.createAgent({ displayName: 'Ada Egress' });
    bo = await village.createAgent({ displayName: 'Bo Egress' });
    await village.admin.setAgentTier(bo.id, { pinnedTier: 1, reason: 'the wildcard tier, for the test' });
    await village.admin.registerEgressSecret({ host: '127.0.0.1', header: 'Authorization', value: SECRET });
    ({ token: nodeToken } = await village.admin.registerNode({ name: 'sparky-test', labels: { gpu: 'none' } }));
    socketDir = await mkdtemp(join(tmpdir(), 'village-egress-'));
    node = new EgressNode({ controlPlaneUrl: village.url, nodeToken, socketDir, syncMs: 500 });
    await node.start();
  });

  after(async () => {
    await node?.stop();
    await Promise.all([allowed?.close(), forbidden?.close()]);
    await village?.dispose();
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  });

  it('opens a socket per agent of the village, and one for an agent created later', async () => {
    assert.ok(node.proxy.agents.includes(ada.id) && node.proxy.agents.includes(bo.id));
    const late = await village.createAgent({ displayName: 'Late Egress' });
    await node.sync();
    assert.ok(node.proxy.agents.includes(late.id));
  });

  it('lets an allowed host through with the brokered secret in place of what the agent sent', async () => {
    const socketPath = agentSocketPath(socketDir, ada.id);
    const answer = await viaProxy({ socketPath }, `http://127.0.0.1:${allowed.port}/hello?key=not-logged`, {
      authorization: 'Bearer what-the-agent-tried',
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, 'hello from /hello?key=not-logged');
    const reached = allowed.seen.at(-1)!;
    assert.equal(reached.headers.authorization, SECRET, 'the proxy injected the site secret');
    assert.equal(reached.headers['proxy-authorization'], undefined);
  });

  it('refuses a host off the allow-list, with a reason the tool can read', async () => {
    const socketPath = agentSocketPath(socketDir, ada.id);
    const before = forbidden.seen.length;
    const answer = await viaProxy({ socketPath }, `http://127.0.0.1:${forbidden.port}/secret-stuff`);
    assert.equal(answer.status, 403);
    assert.equal(answer.headers[REFUSED_HEADER], 'refused');
    assert.match(JSON.parse(answer.body).message, /not on the egress allow-list of tier 0/);
    assert.equal(forbidden.seen.length, before, 'nothing reached the forbidden host');
    const notHttp = await viaProxy({ socketPath }, 'ftp://127.0.0.1/file');
    assert.equal(notHttp.status, 400);
  });

  it('does not let a wildcard reach internal addresses', async () => {
    const answer = await viaProxy(
      { socketPath: agentSocketPath(socketDir, bo.id) },
      `http://127.0.0.1:${allowed.port}/wild`,
    );
    assert.equal(answer.status, 403);
    assert.match(JSON.parse(answer.body).message, /internal addresses/);
  });

  it('tunnels CONNECT to an allowed host (without secrets) and refuses others', async () => {
    const socketPath = agentSocketPath(socketDir, ada.id);
    const ok = await throughTunnel(socketPath, `127.0.0.1:${allowed.port}`);
    assert.equal(ok.connect, 200);
    assert.match(ok.answer ?? '', /hello from \/tunnelled/);
    assert.equal(allowed.seen.at(-1)!.headers.authorization, undefined, 'a tunnel carries no secret');
    const refused = await throughTunnel(socketPath, `127.0.0.1:${forbidden.port}`);
    assert.equal(refused.connect, 403);
  });

  it("passes the agent's own calls through to the control plane", async () => {
    const socketPath = agentSocketPath(socketDir, ada.id);
    const answer = await viaProxy({ socketPath }, `/api/agents/${ada.id}/mail`, {
      authorization: `Bearer ${ada.token}`,
    });
    assert.equal(answer.status, 200, answer.body);
    assert.ok(Array.isArray(JSON.parse(answer.body).items));
  });

  it('works from a loopback port piped to the socket (what runs inside the container)', async () => {
    const forwarder = await startLoopbackForwarder(agentSocketPath(socketDir, ada.id), 0);
    try {
      const port = (forwarder.address() as AddressInfo).port;
      const answer = await viaProxy(
        { port },
        `http://127.0.0.1:${allowed.port}/forwarded`,
        {},
        'POST',
        'x'.repeat(1000),
      );
      assert.equal(answer.status, 200);
      assert.equal(allowed.seen.at(-1)!.method, 'POST');
    } finally {
      forwarder.close();
    }
  });

  it('logs every outbound request, allowed or refused, with bytes, status and the secret used', async () => {
    await node.flushLog();
    const { items } = await village.admin.egressRequests({ filter: { agentId: ada.id }, sort: ['id', 'ASC'] });
    const hello = items.find((item) => item.path === '/hello');
    assert.ok(hello, `the allowed request is logged: ${JSON.stringify(items)}`);
    assert.equal(hello.allowed, true);
    assert.equal(hello.status, 200);
    assert.equal(hello.node, 'sparky-test');
    assert.ok(hello.bytesIn > 0);
    assert.ok(hello.secretId !== null, 'the log names the secret it used (never its value)');
    const post = items.find((item) => item.path === '/forwarded');
    assert.equal(post?.bytesOut, 1000);
    const refused = items.find((item) => item.path === '/secret-stuff');
    assert.equal(refused?.allowed, false);
    assert.match(refused?.reason ?? '', /allow-list/);
    const tunnels = items.filter((item) => item.scheme === 'connect');
    assert.deepEqual(tunnels.map((item) => item.allowed).sort(), [false, true]);
    assert.ok(!JSON.stringify(items).includes(SECRET));
    assert.ok(!JSON.stringify(items).includes('not-logged'), 'queries are not logged');
  });

  it('keeps secrets from agents and people: only node tokens read policies', async () => {
    const asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    await assert.rejects(asAda.egressPolicy(ada.id), (error: VillageApiError) => error.status === 403);
    await assert.rejects(asAda.egressSecrets(), (error: VillageApiError) => error.status === 403);
    const listed = await village.admin.egressSecrets();
    assert.equal(listed.items.length, 1);
    assert.ok(!JSON.stringify(listed).includes(SECRET));
    const asNode = new VillageClient({ baseUrl: village.url, token: nodeToken });
    const policy = await asNode.egressPolicy(ada.id);
    assert.equal(policy.secrets[0]?.value, SECRET);
    await assert.rejects(
      asNode.registerEgressSecret({ host: 'example.org', header: 'X-Key', value: 'v' }),
      (error: VillageApiError) => error.status === 403,
    );
  });

  it('refuses bad secrets and bad log batches with the reason, and a rotated node token', async () => {
    await assert.rejects(
      village.admin.registerEgressSecret({ host: '*.example.org', header: 'X-Key', value: 'v' }),
      (error: VillageApiError) => error.status === 400 && /one host name/.test(error.message),
    );
    await assert.rejects(
      village.admin.registerEgressSecret({ host: 'example.org', header: 'Host', value: 'v' }),
      (error: VillageApiError) => error.status === 400 && /proxy sets itself/.test(error.message),
    );
    const asNode = new VillageClient({ baseUrl: village.url, token: nodeToken });
    await assert.rejects(
      asNode.reportEgressRequests([{ agentId: ada.id } as never]),
      (error: VillageApiError) => error.status === 400,
    );
    await village.admin.rotateNodeToken('sparky-test');
    await assert.rejects(asNode.egressPolicy(ada.id), (error: VillageApiError) => error.status === 401);
  });
});
