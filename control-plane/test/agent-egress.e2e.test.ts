// Agents as operators, end to end on a real Docker engine: agent containers with no network at all,
// the node's egress proxy (the real `village-egress` daemon) as their only way out and to the control
// plane. An agent joins the world and moves through it; a person asks it to fetch a page and it answers
// with a summary and the link, through its HTTP tool; the shell, file, HTTP and browser tools run inside
// a container and land in the tool-call log; an allowed request carries the brokered secret, which the
// container never sees; a host off the allow-list is refused; every request is in the egress log.
// The "outside" is a loopback server on this machine, reached by the machine's host name (which
// resolves to loopback): inside a container `localhost` is the container itself, and the tools rightly
// do not send it to the proxy.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lookup } from 'node:dns/promises';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import type { TierPolicyRequest } from '../src/contract/index.js';
import { eventually } from './support/eventually.js';
import {
  agentImage,
  connectDocker,
  removeTestContainers,
  runAgentContainer,
  type AgentContainer,
  type BuiltImage,
} from './support/docker.js';
import {
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

/** Compiled location: control-plane/dist/test/ → the egress daemon of the agent image. */
const EGRESS_MAIN = fileURLToPath(new URL('../../../agent-image/dist/src/egress/main.js', import.meta.url));
/** The outside site's name: this machine's, which resolves to a loopback address. */
const SITE_HOST = hostname().toLowerCase();
const SECRET = `ghp_${randomBytes(12).toString('hex')}`;
const IMAGE_TIMEOUT_MS = 30 * 60_000;
/** A page the agent serves itself, inside its container, for its browser to fill and click. */
const FORM_PAGE =
  '<html><body><form><input id="q"><button id="go" type="button" ' +
  'onclick="document.title = document.getElementById(\'q\').value">go</button></form></body></html>';

interface Seen {
  path: string;
  authorization: string | undefined;
}

/** A loopback site: a page to summarize, and a record of what reached it. */
async function startSite(address: string) {
  const seen: Seen[] = [];
  const server = http.createServer((request, response) => {
    seen.push({ path: request.url ?? '', authorization: request.headers.authorization });
    request.resume();
    response.setHeader('content-type', 'text/html');
    response.end(
      '<html><head><title>Village Gazette</title></head><body><p>The harvest festival starts on Saturday at noon. ' +
        'Everyone brings one dish.</p></body></html>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('agents as operators behind the egress proxy', { timeout: IMAGE_TIMEOUT_MS + 10 * 60_000 }, () => {
  let docker: Docker;
  let image: BuiltImage;
  let environment: TestEnvironment;
  let app: TestApp;
  let site: Awaited<ReturnType<typeof startSite>>;
  let forbidden: Awaited<ReturnType<typeof startSite>>;
  let egressDir: string;
  let siteAddress: string;
  let egress: ChildProcess | undefined;
  let egressOutput = '';
  const suffix = randomBytes(3).toString('hex');
  const volumes: string[] = [];

  before(
    async () => {
      if (!existsSync(EGRESS_MAIN)) throw new Error(`${EGRESS_MAIN} is missing: npm run build first`);
      docker = await connectDocker();
      image = await agentImage();
      siteAddress = (await lookup(SITE_HOST, { family: 4 })).address;
      if (!siteAddress.startsWith('127.')) {
        throw new Error(`this machine's name ${SITE_HOST} resolves to ${siteAddress}; the test needs it on loopback`);
      }
      [site, forbidden] = await Promise.all([startSite(siteAddress), startSite(siteAddress)]);
      environment = await createTestEnvironment({
        VILLAGE_TICK_MS: '100',
        VILLAGE_SECRETS_KEY: randomBytes(32).toString('base64url'),
      });
      app = await startTestApp(environment);
      // Every tier may reach the site (by name, so its loopback address is allowed) and nothing else.
      const policy = await app.admin.tierPolicy();
      const tiers: TierPolicyRequest['tiers'] = policy.tiers.map((tier) => ({
        ...tier,
        entitlements: { ...tier.entitlements, egressHosts: [`${SITE_HOST}:${site.port}`] },
      }));
      await app.admin.setTierPolicy({ hysteresis: policy.hysteresis, tiers });
      await app.admin.registerEgressSecret({ host: SITE_HOST, header: 'Authorization', value: `Bearer ${SECRET}` });
      egressDir = mkdtempSync(join(tmpdir(), 'village-egress-'));
    },
    { timeout: IMAGE_TIMEOUT_MS },
  );
  after(async () => {
    if (docker) await removeTestContainers(docker);
    for (const volume of volumes) {
      await docker
        ?.getVolume(volume)
        .remove()
        .catch(() => undefined);
    }
    if (egress && egress.exitCode === null) {
      egress.kill('SIGTERM');
      await new Promise((resolve) => egress!.once('exit', resolve));
    }
    await app?.close();
    await environment?.dispose();
    await Promise.all([site?.close(), forbidden?.close()]);
    if (egressDir) rmSync(egressDir, { recursive: true, force: true });
  });

  /** The node's egress daemon, started once the agents exist (it opens a socket per agent at start). */
  async function startEgress() {
    const { token } = await app.admin.registerNode({ name: `node-${suffix}` });
    egress = spawn(process.execPath, [EGRESS_MAIN], {
      env: { ...process.env, VILLAGE_URL: app.url, VILLAGE_NODE_TOKEN: token, VILLAGE_EGRESS_DIR: egressDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (egressOutput = (egressOutput + chunk.toString()).slice(-10_000));
    egress.stdout!.on('data', keep);
    egress.stderr!.on('data', keep);
  }

  const tokens = new Map<string, string>();
  async function createAgent(id: string) {
    const created = await app.admin.createAgent({ id, displayName: `Operator ${id}` });
    tokens.set(id, created.token);
  }

  /** The agent's container: no network, its egress socket's directory mounted, its tier's limits. */
  async function agentContainer(id: string, disk = 'first'): Promise<AgentContainer> {
    const { economy } = await app.admin.agent(id);
    const volume = `village-test-egress-${id}-${disk}`;
    volumes.push(volume);
    const socket = join(egressDir, id, 'egress.sock');
    await eventually(() => existsSync(socket), `the egress socket of ${id} (daemon output: ${egressOutput})`, 20_000);
    return runAgentContainer(docker, {
      agentId: id,
      token: tokens.get(id)!,
      entitlements: economy.entitlements,
      workspace: volume,
      network: { mode: 'egress-proxy', socketDirectory: join(egressDir, id) },
      image: image.reference,
      settings: { VILLAGE_AGENT_LOOP_MS: '300' },
      hostCpus: availableParallelism(),
    });
  }

  /** Runs a step, adding the container's and the daemon's output to a failure. */
  async function explained<T>(container: AgentContainer, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const logs = await container.logs().catch((reason: unknown) => `(no logs: ${String(reason)})`);
      if (error instanceof Error) {
        error.message += `\n--- container ---\n${logs.slice(-3000)}\n--- egress daemon ---\n${egressOutput.slice(-2000)}`;
      }
      throw error;
    }
  }

  const reader = `reader-${suffix}`;
  const worker = `worker-${suffix}`;
  let readerContainer: AgentContainer;
  let workerContainer: AgentContainer;

  test('an agent with no network joins the world through the proxy and moves', async () => {
    await createAgent(reader);
    await createAgent(worker);
    // The worker's tier has every tool (shell and browser come with the higher tiers).
    await app.admin.setAgentTier(worker, { pinnedTier: 3, reason: 'every tool, for the test' });
    await startEgress();
    readerContainer = await agentContainer(reader);
    await explained(readerContainer, async () => {
      await eventually(
        async () => {
          const agent = await app.admin.agent(reader);
          return agent.status.online && (agent.version > 0 || agent.walking);
        },
        'the agent online and moving',
        60_000,
      );
      const info = await readerContainer.inspect();
      assert.equal(info.HostConfig.NetworkMode, 'none');
    });
  });

  test('a person asks it to fetch a page: it answers with a summary and the link, through its HTTP tool', async () => {
    const person = await signUpPerson(app.url, `asker${suffix}`);
    const url = `http://${SITE_HOST}:${site.port}/gazette`;
    const post = await person.client.createPost({
      title: 'News?',
      body: `@${reader} please fetch ${url} and summarize it for me`,
      audience: 'public',
    });
    await explained(readerContainer, async () => {
      const reply = await eventually(
        async () => {
          const thread = await app.admin.post(post.id);
          return thread.replies.find((candidate) => candidate.author.id === reader && candidate.body.includes(url));
        },
        'the agent’s reply with the link',
        60_000,
      );
      assert.match(reply.body, /harvest festival/);
      assert.match(reply.body, /Village Gazette/);
    });
    const reached = site.seen.find((seen) => seen.path === '/gazette');
    assert.equal(reached?.authorization, `Bearer ${SECRET}`, 'the proxy injected the site secret');
    // The runtime sends its tool-call log in batches, a moment after the call.
    await eventually(
      async () => {
        const calls = await app.admin.toolCalls({ filter: { agentId: reader, tool: 'http' } });
        return calls.items.some((call) => call.ok && JSON.stringify(call.arguments).includes('/gazette'));
      },
      'the fetch in the tool-call log',
      15_000,
    );
  });

  test('from inside: the allowed host gets the secret the container never holds; others are refused; no direct way out', async () => {
    await explained(readerContainer, async () => {
      const allowed = await readerContainer.exec(['curl', '-sS', `http://${SITE_HOST}:${site.port}/from-curl`]);
      assert.equal(allowed.exitCode, 0, allowed.output);
      assert.match(allowed.output, /harvest festival/);
      assert.equal(site.seen.find((seen) => seen.path === '/from-curl')?.authorization, `Bearer ${SECRET}`);

      const refused = await readerContainer.exec([
        'curl',
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `http://${SITE_HOST}:${forbidden.port}/nope`,
      ]);
      assert.equal(refused.output.trim(), '403');
      assert.equal(forbidden.seen.length, 0, 'nothing reached the host off the allow-list');

      const direct = await readerContainer.exec([
        'curl',
        '-sS',
        '--noproxy',
        '*',
        '--max-time',
        '3',
        `http://${SITE_HOST}:${site.port}/direct`,
      ]);
      assert.notEqual(direct.exitCode, 0, direct.output);
      assert.ok(!site.seen.some((seen) => seen.path === '/direct'));

      // Nowhere inside: not in any process's environment, not in the runtime's files, not in the workspace.
      const inside = await readerContainer.exec([
        'sh',
        '-c',
        'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n"; grep -rl "' +
          SECRET +
          '" /workspace /opt/village /run/village /tmp /root 2>/dev/null; true',
      ]);
      assert.ok(inside.output.includes('VILLAGE_AGENT_TOKEN='), 'the environments were read');
      assert.ok(!inside.output.includes(SECRET), 'the secret is nowhere in the container');
    });
  });

  test('shell, file, HTTP and browser tools run inside a container and show up in the log', async () => {
    workerContainer = await agentContainer(worker);
    // The tools as the runtime runs them (its own modules, config and log, through the forwarder its
    // runtime opened), driven by a small script instead of a brain, so that every tool is called once, in order.
    const script = `
      import { parseAgentConfig } from '/opt/village/agent-image/dist/src/config.js';
      import { createToolRunner } from '/opt/village/agent-image/dist/src/tools/index.js';
      import { ToolCallLog } from '/opt/village/agent-image/dist/src/tools/tool-call-log.js';
      import { StructuredLog } from '/opt/village/agent-image/dist/src/structured-log.js';
      import { VillageClient } from '@ai-village/control-plane/contract';
      process.on('uncaughtException', (error) => { console.log('CRASH ' + (error.stack ?? error) + ' cause: ' + error?.cause); process.exit(2); });
      process.on('unhandledRejection', (error) => { console.log('CRASH ' + (error?.stack ?? error) + ' cause: ' + error?.cause); process.exit(2); });
      const config = parseAgentConfig(process.env);
      const client = new VillageClient({ baseUrl: config.villageUrl, token: config.agentToken });
      const log = new ToolCallLog(client, config.agentId, new StructuredLog({ agent: config.agentId }), { delayMs: 50 });
      const runner = createToolRunner(config.tools, log);
      const { economy } = await client.agent(config.agentId);
      runner.setEntitlements({ ...economy.entitlements, tierName: economy.tier.name });
      const results = [];
      const run = async (tool, input) => results.push({ tool, ...(await runner.run({ tool, input })) });
      await run('file', { op: 'write', path: 'site/index.html', content: ${JSON.stringify(FORM_PAGE)} });
      // Started in the background, then waited for (up to 15 s): on a busy machine Python takes a while to listen.
      await run('shell', { command: 'cd site && (setsid nohup python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &) && for i in $(seq 150); do curl -s --noproxy "*" -o /dev/null http://127.0.0.1:8765/ && break; sleep 0.1; done && echo started in $PWD' });
      await run('file', { op: 'write', path: 'notes/today.md', content: 'made a site' });
      await run('file', { op: 'read', path: 'notes/today.md' });
      await run('http', { url: 'http://${SITE_HOST}:${site.port}/from-tool' });
      await run('browser', { action: 'open', url: 'http://127.0.0.1:8765/index.html' });
      await run('browser', { action: 'fill', selector: '#q', value: 'hello village' });
      await run('browser', { action: 'click', selector: '#go' });
      await run('browser', { action: 'screenshot', path: 'shots/form.png' });
      await run('browser', { action: 'close' });
      await run('file', { op: 'read', path: '../etc/passwd' });
      await log.flush(5000);
      console.log(JSON.stringify(results.map(({ tool, ok, error, exitCode, output }) => ({ tool, ok, error, exitCode, output: String(output ?? '').slice(0, 200) }))));
      process.exit(0);
    `;
    await explained(workerContainer, async () => {
      // The script talks through the runtime's forwarder, which listens before the runtime logs its start.
      await eventually(
        async () => (await workerContainer.logs()).includes('"phase":"start"'),
        'the worker runtime started (its forwarder listening)',
        30_000,
      );
      const write = await workerContainer.exec([
        'sh',
        '-c',
        `cat > /opt/village/agent-image/run-tools.mjs <<'EOF'\n${script}\nEOF`,
      ]);
      assert.equal(write.exitCode, 0, write.output);
      const ran = await workerContainer.exec(['node', '/opt/village/agent-image/run-tools.mjs']);
      assert.equal(ran.exitCode, 0, ran.output);
      const results = JSON.parse(ran.output.trim().split('\n').pop()!) as {
        tool: string;
        ok: boolean;
        error?: string;
        output: string;
      }[];
      const failures = results.slice(0, -1).filter((result) => !result.ok);
      assert.deepEqual(failures, [], JSON.stringify(results));
      const output = (tool: string, pattern: RegExp) =>
        assert.ok(
          results.some((result) => result.tool === tool && pattern.test(result.output)),
          `${tool}: ${JSON.stringify(results)}`,
        );
      output('shell', /started in \/workspace\/site/);
      output('file', /made a site/);
      output('http', /harvest festival/);
      const escape = results.at(-1)!;
      assert.equal(escape.ok, false);
      assert.match(escape.error ?? '', /outside the workspace/);
      const shot = await workerContainer.exec(['sh', '-c', 'test -s /workspace/shots/form.png && echo present']);
      assert.match(shot.output, /present/);
    });
    const { items } = await app.admin.toolCalls({ filter: { agentId: worker }, sort: ['id', 'ASC'] });
    assert.deepEqual(
      [...new Set(items.map((call) => call.tool))].sort(),
      ['browser', 'file', 'http', 'shell'],
      JSON.stringify(items),
    );
    const shell = items.find((call) => call.tool === 'shell')!;
    assert.equal(shell.cwd, '.', 'the workspace itself (paths in the log are relative to it)');
    assert.equal(shell.exitCode, 0);
    assert.ok(
      items.some((call) => call.tool === 'file' && !call.ok),
      'the refused path is logged too',
    );
  });

  test('a replaced container, on an empty disk, resumes with its memory', async () => {
    const kept = await eventually(
      async () => {
        const memory = await app.admin.memory(reader);
        return memory.episodes.length > 0 ? memory : undefined;
      },
      'episodes kept by the control plane',
      20_000,
    );
    await readerContainer.remove();
    const replacement = await agentContainer(reader, 'second');
    await explained(replacement, async () => {
      const restored = await eventually(
        async () =>
          (await replacement.logs())
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as { memory?: string; episodes?: number })
            .find((line) => line.memory === 'restored'),
        'the replacement’s runtime restoring its memory',
        60_000,
      );
      assert.ok((restored.episodes ?? 0) >= Math.min(kept.episodes.length, 1), JSON.stringify(restored));
      const workspace = await replacement.exec(['sh', '-c', 'ls -A /workspace | wc -l']);
      assert.equal(workspace.output.trim(), '0', 'a new, empty disk');
    });
  });

  test('every outbound request is in the egress log: allowed with its secret, refused with the reason', async () => {
    const { items } = await app.admin.egressRequests({ filter: { node: `node-${suffix}` }, sort: ['id', 'ASC'] });
    const byPath = (path: string) => items.find((item) => item.path === path);
    for (const path of ['/gazette', '/from-curl', '/from-tool']) {
      const item = byPath(path);
      assert.ok(item, `${path} logged: ${JSON.stringify(items)}`);
      assert.equal(item.allowed, true);
      assert.equal(item.status, 200);
      assert.ok(item.secretId !== null && item.bytesIn > 0);
    }
    const refused = byPath('/nope');
    assert.equal(refused?.allowed, false);
    assert.equal(refused?.agentId, reader);
    assert.match(refused?.reason ?? '', /not on the egress allow-list/);
    assert.ok(!JSON.stringify(items).includes(SECRET));
  });
});
