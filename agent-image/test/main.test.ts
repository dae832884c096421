import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startVillageStub } from './village-stub-server.js';
import type { VillageStub } from './village-stub-server.js';

// The compiled entry point, run as the launcher runs it: a child process configured by env.
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

function startAgent(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, output: () => ({ stdout, stderr }) };
}

const stubs: VillageStub[] = [];
after(() => Promise.all(stubs.map((stub) => stub.close())));

describe('main (the agent process)', { timeout: 15_000 }, () => {
  it('exits 1 naming VILLAGE_AGENT_TOKEN when it is missing', async () => {
    const agent = startAgent({ VILLAGE_URL: 'http://127.0.0.1:9', VILLAGE_AGENT_ID: 'ada' });
    assert.equal(await agent.exited, 1);
    const [line] = agent.output().stderr.trim().split('\n');
    const parsed = JSON.parse(line!) as { level: string; phase: string; message: string };
    assert.equal(parsed.level, 'error');
    assert.match(parsed.message, /VILLAGE_AGENT_TOKEN is required/);
  });

  it('lives until SIGTERM, finishes its step and exits 0', async () => {
    const village = await startVillageStub();
    stubs.push(village);
    const agent = startAgent({
      VILLAGE_URL: village.url,
      VILLAGE_AGENT_ID: 'ada',
      VILLAGE_AGENT_TOKEN: 'secret-token',
      VILLAGE_AGENT_LOOP_MS: '50',
    });
    while (!village.requests.some((request) => request.method === 'POST')) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.output().stderr);
    const lines = agent
      .output()
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { phase: string; intent?: string });
    assert.equal(lines.at(-1)?.phase, 'stop');
    assert.ok(lines.some((line) => line.phase === 'act' && line.intent?.startsWith('move:')));
    assert.equal(agent.output().stderr, '');
  });

  it('exits 1 when the token is refused', async () => {
    const village = await startVillageStub({ token: 'the-real-token' });
    stubs.push(village);
    const agent = startAgent({ VILLAGE_URL: village.url, VILLAGE_AGENT_ID: 'ada', VILLAGE_AGENT_TOKEN: 'revoked' });
    assert.equal(await agent.exited, 1);
    assert.match(agent.output().stderr, /VILLAGE_AGENT_TOKEN is wrong or revoked/);
  });
});
