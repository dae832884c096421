import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VillageApiError } from '@ai-village/control-plane/contract';
import { retryAfterSeconds } from '../src/agent-loop.js';
import { Backoff } from '../src/backoff.js';
import type { Episode } from '../src/brains/brain.js';
import { createPrng } from '../src/brains/prng.js';
import { EpisodicLog } from '../src/episodic-log.js';

function episode(loop: number, fields: Partial<Episode> = {}): Episode {
  return {
    loop,
    tick: loop,
    position: { x: 0, y: 0 },
    landmark: null,
    intent: { kind: 'say', text: `line ${loop}` },
    status: 'done',
    ...fields,
  };
}

describe('episodic log', () => {
  it('keeps only the last 200 episodes, oldest first', () => {
    const log = new EpisodicLog();
    for (let loop = 1; loop <= 250; loop++) log.record(episode(loop));
    assert.equal(log.size, 200);
    assert.equal(log.entries()[0]?.loop, 51);
    assert.equal(log.entries().at(-1)?.loop, 250);
  });

  it('folds the same idle, loop after loop, into one line', () => {
    const log = new EpisodicLog();
    const idle = { kind: 'idle', why: 'walking to cafe' } as const;
    for (let loop = 1; loop <= 5; loop++) log.record(episode(loop, { intent: idle }));
    log.record(episode(6));
    assert.equal(log.size, 2);
    assert.equal(log.entries()[0]?.repeats, 5);
    assert.equal(log.entries()[0]?.loop, 5);
  });
});

describe('back-off', () => {
  it('doubles from twice the base, up to the cap, and starts over after a success', () => {
    const backoff = new Backoff(1000, 30_000, () => 1);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => backoff.next()),
      [2000, 4000, 8000, 16000, 30000, 30000],
    );
    assert.equal(backoff.reset(), 6);
    assert.equal(backoff.next(), 2000);
  });

  it('takes up to a quarter off at random, so agents do not retry in step', () => {
    assert.equal(new Backoff(1000, 30_000, () => 0).next(), 1500);
  });
});

describe('seeded PRNG', () => {
  it('repeats itself for a seed and differs between seeds', () => {
    const draw = (seed: string) => Array.from({ length: 5 }, createPrng(seed).next);
    assert.deepEqual(draw('ada'), draw('ada'));
    assert.notDeepEqual(draw('ada'), draw('bruno'));
    assert.ok(draw('ada').every((value) => value >= 0 && value < 1));
  });
});

describe('Retry-After', () => {
  it("is the refused request's header, carried by the client's error", () => {
    const body = { statusCode: 429, error: 'Too Many Requests', message: 'try again in 37 s' };
    assert.equal(retryAfterSeconds(new VillageApiError(429, body, '/api/agents/ada', 37)), 37);
    assert.equal(retryAfterSeconds(new VillageApiError(429, body, '/api/agents/ada')), undefined);
    assert.equal(retryAfterSeconds(new Error('try again in 5 s')), undefined);
  });
});
