// Memory that survives the container: two runtime processes of the same agent, one after the other,
// each on an empty workspace (a replaced container), against the real control plane. The second
// starts from what the first left: its episodes and its reflection notes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentMemory } from '@ai-village/control-plane/contract';
import { eventually, startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('memory that survives a replaced container', { timeout: 90_000 }, () => {
  let village: ControlPlane;
  let disks: string;
  const children: ChildProcess[] = [];

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    disks = await mkdtemp(join(tmpdir(), 'village-memory-'));
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await village?.dispose();
    await rm(disks, { recursive: true, force: true });
  });

  /** One runtime process of the agent, on its own fresh workspace. */
  async function runtime(agent: { id: string; token: string }, disk: string) {
    const workspace = join(disks, disk);
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        VILLAGE_URL: village.url,
        VILLAGE_AGENT_ID: agent.id,
        VILLAGE_AGENT_TOKEN: agent.token,
        VILLAGE_AGENT_LOOP_MS: '50',
        VILLAGE_AGENT_REFLECT_LOOPS: '10',
        VILLAGE_WORKSPACE: workspace,
      },
    });
    children.push(child);
    const lines: Record<string, unknown>[] = [];
    let rest = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const parts = text.split('\n');
      rest = parts.pop()!;
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    return {
      lines,
      workspace,
      stderr: () => stderr,
      async stop(): Promise<number | null> {
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        return code;
      },
    };
  }

  const memoryOf = (agentId: string): Promise<AgentMemory> => village.admin.memory(agentId);
  const runOf = (key: string) => key.split(':')[0];

  it('a second runtime on an empty disk resumes with the episodes and notes of the first', async () => {
    const nia = await village.createAgent({ id: 'nia', displayName: 'Nia', persona: 'A baker.' });

    const first = await runtime(nia, 'first');
    const before = await eventually(
      async () => {
        const memory = await memoryOf(nia.id);
        return memory.notes.length >= 1 && memory.episodeCount >= 5 ? memory : undefined;
      },
      'the first runtime to leave episodes and a note',
      30_000,
    );
    assert.equal(await first.stop(), 0, first.stderr());
    const left = await memoryOf(nia.id);
    const firstRun = runOf(left.episodes[0]!.key);
    assert.ok(left.episodes.every((episode) => runOf(episode.key) === firstRun));
    assert.match(before.notes[0]!.text, /^Loops 1-10: /);

    // The replacement: a new process, a new empty workspace, the same agent.
    const second = await runtime(nia, 'second');
    const restored = await eventually(
      () => second.lines.find((line) => line.memory === 'restored'),
      'the second runtime to restore its memory',
      15_000,
    );
    assert.equal(restored.episodes, Math.min(left.episodeCount, 200));
    assert.equal(restored.notes, left.notes.length);
    const after = await eventually(
      async () => {
        const memory = await memoryOf(nia.id);
        const newer = memory.episodes.filter((episode) => runOf(episode.key) !== firstRun);
        return newer.length >= 3 && memory.notes.length > left.notes.length ? memory : undefined;
      },
      'the second runtime to add to the same memory',
      30_000,
    );
    assert.equal(await second.stop(), 0, second.stderr());

    // One memory, in order: the first runtime's lines, then the second's; the notes of both.
    const runs = after.episodes.map((episode) => runOf(episode.key));
    const secondRun = runs.at(-1)!;
    assert.notEqual(secondRun, firstRun);
    const switchAt = runs.indexOf(secondRun);
    assert.ok(
      runs.slice(0, switchAt).every((run) => run === firstRun),
      runs.join(' '),
    );
    assert.ok(
      runs.slice(switchAt).every((run) => run === secondRun),
      runs.join(' '),
    );
    assert.deepEqual(
      after.notes.slice(0, left.notes.length).map((note) => note.text),
      left.notes.map((note) => note.text),
    );
    // Its loops count from 1 again (a new process); the notes say which loops of which run.
    assert.match(after.notes.at(-1)!.text, /^Loops \d+-\d+: /);
    // Nothing of the first disk was needed: the second workspace is not even created by the scripted brain.
    await assert.rejects(readdir(second.workspace), /ENOENT/);
  });
});
