// The built agent process (`agent-image/dist/src/main.js`), run as the launcher runs it: a child
// process configured by its environment, against the real control plane (control-plane-process.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { WorldEvent } from '@ai-village/control-plane/contract';
import { eventually, startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { ADA_PERSONA } from './perceptions.js';
import { WorldViewer } from './world-viewer.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const EXIT_TIMEOUT_MS = 10_000;

const children: ChildProcess[] = [];

function startAgent(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  /** The exit code; a process still running after the time limit is killed and fails the test. */
  const exited = async () => {
    const timer = new AbortController();
    try {
      return await Promise.race([
        exit,
        delay(EXIT_TIMEOUT_MS, undefined, { signal: timer.signal }).then(() => {
          child.kill('SIGKILL');
          throw new Error(`the agent did not exit within ${EXIT_TIMEOUT_MS} ms:\n${stderr}`);
        }),
      ]);
    } finally {
      timer.abort();
    }
  };
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Something the agent itself did in the village (not the presence events its requests cause). */
const ACTS: readonly WorldEvent['type'][] = ['agent.walk_started', 'agent.arrived', 'agent.said', 'agent.emoted'];

describe('main (the agent process)', { timeout: 30_000 }, () => {
  let village: ControlPlane;
  let viewer: WorldViewer;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    viewer = await new WorldViewer(village.url).ready();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    viewer?.close();
    await village?.dispose();
  });

  it('exits 1 naming VILLAGE_AGENT_TOKEN when it is missing', async () => {
    const agent = startAgent({ VILLAGE_URL: village.url, VILLAGE_AGENT_ID: 'ada' });
    assert.equal(await agent.exited(), 1);
    const [line] = agent.output().stderr.trim().split('\n');
    const parsed = JSON.parse(line!) as { level: string; phase: string; message: string };
    assert.equal(parsed.level, 'error');
    assert.match(parsed.message, /VILLAGE_AGENT_TOKEN is required/);
  });

  it('lives in the village until SIGTERM, finishes its step and exits 0', async () => {
    const ada = await village.createAgent({ id: 'ada', displayName: 'Ada', persona: ADA_PERSONA });
    const agent = startAgent({
      VILLAGE_URL: village.url,
      VILLAGE_AGENT_ID: ada.id,
      VILLAGE_AGENT_TOKEN: ada.token,
      VILLAGE_AGENT_LOOP_MS: '50',
    });

    // It acted: the village saw it walk off, speak or emote.
    const acted = await eventually(
      () => viewer.events.find((event) => ACTS.includes(event.type) && 'agentId' in event && event.agentId === ada.id),
      `Ada to do something in the village:\n${agent.output().stderr}`,
    );
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited(), 0, agent.output().stderr);

    const lines = agent
      .output()
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { phase: string; intent?: string; signal?: string });
    assert.equal(lines[0]?.phase, 'start');
    assert.ok(lines.some((line) => line.phase === 'stop' && line.signal === 'SIGTERM'));
    assert.equal(lines.at(-1)?.phase, 'stop');
    assert.ok(lines.some((line) => line.phase === 'act'));
    assert.equal(agent.output().stderr, '');
    const self = await village.admin.agent(ada.id);
    assert.equal(self.status.online, true, 'the village never saw Ada');
    if (acted.type === 'agent.walk_started') assert.equal(self.walking?.landmark ?? self.landmark, acted.landmark);
  });

  it('exits 3 (not 1) when the control plane refuses its token', async () => {
    const bo = await village.createAgent({ id: 'bo', displayName: 'Bo' });
    const agent = startAgent({
      VILLAGE_URL: village.url,
      VILLAGE_AGENT_ID: bo.id,
      VILLAGE_AGENT_TOKEN: 'avt_not-bos-token',
      VILLAGE_AGENT_LOOP_MS: '50',
    });
    assert.equal(await agent.exited(), 3, agent.output().stderr);
    const lines = agent
      .output()
      .stderr.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; status?: number; fatal?: boolean; message: string });
    assert.deepEqual(
      lines.map((line) => [line.level, line.status, line.fatal]),
      [['error', 401, true]],
    );
    assert.match(lines[0]!.message, /VILLAGE_AGENT_TOKEN is wrong or revoked/);
    assert.equal((await village.admin.agent(bo.id)).version, bo.version);
  });
});
