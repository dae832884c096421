// The tools through the agent loop, against the real control plane (control-plane-process.ts): a
// brain's tool calls run under the agent's tier and show up in the tool-call log; the scripted brain
// fetches a page a person asked for and answers with a summary and the link.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VillageClient } from '@ai-village/control-plane/contract';
import type { Agent, ToolCall } from '@ai-village/control-plane/contract';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import { LLM_DEFAULTS, TOOL_DEFAULTS } from '../src/config.js';
import type { AgentConfig } from '../src/config.js';
import { eventually, startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { RecordingBrain, capturedLog, runUntil } from './loop-harness.js';

type TestAgent = Agent & { token: string };

const NEWS = `<!doctype html><html><head><title>Village Gazette &amp; News</title>
  <script>var tracking = "ignore me";</script></head>
  <body><nav>Home | About</nav>
  <p>The old mill reopened on Tuesday after a year of repairs. Bakers lined up at dawn for the first flour.</p>
  <p>The council thanked the volunteers, and @mira, who fixed the wheel. Next week: the harvest fair.</p>
  </body></html>`;

describe('tools through the loop, against the real control plane', { timeout: 90_000 }, () => {
  let village: ControlPlane;
  let site: http.Server;
  let siteUrl: string;
  let workspace: string;
  let created = 0;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    site = http.createServer((request, response) => {
      if (request.url === '/news') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(NEWS);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('nothing here');
      }
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    workspace = await mkdtemp(join(tmpdir(), 'village-loop-tools-'));
  });
  after(async () => {
    await village?.dispose();
    site?.closeAllConnections();
    await new Promise((resolve) => site?.close(resolve));
    await rm(workspace, { recursive: true, force: true });
  });

  async function newAgent(name: string): Promise<TestAgent> {
    created++;
    return village.createAgent({ id: `${name.toLowerCase()}-${created}`, displayName: name, persona: '' });
  }

  function configFor(agent: TestAgent): AgentConfig {
    return {
      villageUrl: village.url,
      agentId: agent.id,
      agentToken: agent.token,
      loopMs: 50,
      seed: agent.id,
      brain: 'scripted',
      llm: LLM_DEFAULTS,
      reflectEveryLoops: 40,
      tools: { ...TOOL_DEFAULTS, workspace: join(workspace, agent.id) },
    };
  }

  async function loggedCalls(agentId: string, count: number): Promise<ToolCall[]> {
    return eventually(async () => {
      const page = await village.admin.toolCalls({ filter: { agentId }, sort: ['id', 'ASC'] });
      return page.items.length >= count ? page.items : undefined;
    }, `${count} tool calls of ${agentId} in the log`);
  }

  it("runs a brain's tool calls under its tier and logs every one, refusals included", async () => {
    const ivy = await newAgent('Ivy');
    const config = configFor(ivy);
    const controller = new AbortController();
    const brain = new RecordingBrain(({ loop }) => {
      if (loop === 1)
        return [
          { kind: 'tool', call: { tool: 'file', input: { op: 'write', path: 'plan.md', content: '# Plan\n' } } },
          { kind: 'tool', call: { tool: 'shell', input: { command: 'id -u' } } },
        ];
      if (loop === 2) return [{ kind: 'tool', call: { tool: 'http', input: { url: `${siteUrl}/news` } } }];
      return [{ kind: 'idle', why: 'reading' }];
    });
    const { log } = capturedLog(ivy.id);
    await runUntil(config, { brain, log }, { controller, until: () => brain.reflected.length >= 3, what: '3 loops' });

    // Loop 1: the file was written; the shell is not a commons tool.
    const [write, shell] = brain.reflected[0]!.outcomes;
    assert.equal(write!.status, 'done');
    assert.equal(await readFile(join(workspace, ivy.id, 'plan.md'), 'utf8'), '# Plan\n');
    assert.equal(shell?.status, 'rejected');
    assert.equal(
      shell.status === 'rejected' && shell.message,
      'the shell tool is not in tier commons: you may use file, http',
    );
    const [fetched] = brain.reflected[1]!.outcomes;
    assert.ok(fetched?.status === 'done' && fetched.tool);
    assert.equal(fetched.tool.exitCode, 200);

    // Logged in the order they finished: the two of loop 1 ran at the same time.
    const calls = (await loggedCalls(ivy.id, 3)).sort(
      (a, b) => a.startedAt.localeCompare(b.startedAt) || a.tool.localeCompare(b.tool),
    );
    assert.deepEqual(
      calls.map((call) => [call.tool, call.action, call.ok, call.exitCode]),
      [
        ['file', 'write', true, null],
        ['shell', 'refused', false, null],
        ['http', 'GET', true, 200],
      ],
    );
    assert.deepEqual(calls[0]!.arguments, { op: 'write', path: 'plan.md', content: '# Plan\n' });
    assert.equal(calls[0]!.output, 'wrote 7 bytes to plan.md');
    assert.match(calls[2]!.output, /^HTTP 200 OK\ncontent-type: text\/html/);
    assert.ok(calls.every((call) => call.durationMs >= 0 && call.startedAt <= call.finishedAt));
  });

  it('follows the tier: a citizen gets the shell and two runs at once', async () => {
    const jay = await newAgent('Jay');
    await village.admin.setAgentTier(jay.id, { pinnedTier: 1, reason: 'test: a citizen' });
    const brain = new RecordingBrain(({ loop }) =>
      loop === 1
        ? [
            { kind: 'tool', call: { tool: 'shell', input: { command: 'sleep 0.3; echo one' } } },
            { kind: 'tool', call: { tool: 'shell', input: { command: 'sleep 0.3; echo two' } } },
            { kind: 'tool', call: { tool: 'shell', input: { command: 'echo three' } } },
          ]
        : [{ kind: 'idle' }],
    );
    const { log } = capturedLog(jay.id);
    await runUntil(configFor(jay), { brain, log }, { until: () => brain.reflected.length >= 1, what: 'one loop' });
    const outcomes = brain.reflected[0]!.outcomes;
    const results = outcomes.map((outcome) => (outcome.status === 'done' ? outcome.tool?.output : outcome.status));
    // Three at once, two allowed: one of them is refused (whichever came last to the runner).
    assert.equal(results.filter((result) => result === 'rejected').length, 1, JSON.stringify(results));
    assert.ok(results.includes('one\n') || results.includes('two\n'));
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    assert.match(refused?.status === 'rejected' ? refused.message : '', /tier citizen allows 2 tool runs at once/);
    await loggedCalls(jay.id, 3);
  });

  it('the scripted brain fetches a page a person asks for and replies with a summary and its link', async () => {
    const ada = await newAgent('Ada');
    const person = new VillageClient({ baseUrl: village.url });
    const session = await person.signUp({
      handle: 'hanna',
      email: 'hanna@example.test',
      password: 'a long enough password',
      session: 'bearer',
    });
    person.setToken(session.accessToken);
    const asked = await person.createPost({
      title: 'News?',
      body: `@${ada.id} please fetch ${siteUrl}/news and summarize it for us.`,
    });
    const missing = await person.createPost({
      title: 'And this one',
      body: `@${ada.id} could you read ${siteUrl}/gone?`,
    });
    const brain = new ScriptedBrain({ seed: ada.id, postEveryLoops: 100_000 });
    const { log } = capturedLog(ada.id);
    const replyOf = async (postId: number) =>
      (await village.admin.post(postId)).replies.find((reply) => reply.author.id === ada.id);
    await runUntil(
      configFor(ada),
      { brain, log },
      {
        until: async () => Boolean((await replyOf(asked.id)) && (await replyOf(missing.id))),
        what: 'both answers on the board',
        timeoutMs: 20_000,
      },
    );
    const summary = (await replyOf(asked.id))!;
    assert.equal(
      summary.body,
      '**Village Gazette & News**: The old mill reopened on Tuesday after a year of repairs. ' +
        'Bakers lined up at dawn for the first flour. The council thanked the volunteers, and @\u200bmira, ' +
        'who fixed the wheel. Next week: the harvest fair.' +
        `\n\nSource: <${siteUrl}/news>`,
    );
    assert.equal(
      (await replyOf(missing.id))!.body,
      `I tried to fetch <${siteUrl}/gone>, but it did not work: HTTP 404 Not Found: nothing here`,
    );
    const calls = await loggedCalls(ada.id, 2);
    assert.deepEqual(
      calls.map((call) => [call.tool, call.action, call.arguments.url, call.ok]),
      [
        ['http', 'GET', `${siteUrl}/news`, true],
        ['http', 'GET', `${siteUrl}/gone`, false],
      ],
    );
  });
});
