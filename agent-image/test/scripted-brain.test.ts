import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Landmark } from '@ai-village/control-plane/contract';
import { ScriptedBrain, homeOf } from '../src/brains/scripted-brain.js';
import type { Perception } from '../src/brains/brain.js';
import { personaTopics } from '../src/brains/scripted-lines.js';
import { dayPart } from '../src/brains/village-time.js';
import { ADA_PERSONA, LANDMARKS, agentAt, makeAgent, neighbours, worldOf } from './perceptions.js';
import { A_DAY_AND_A_BIT, arrivals, kindOf, movesIn, newDay, saysIn, simulate } from './simulated-day.js';

// The scripted brain is a pure function of its perceptions, so these tests build them by hand on
// the real default map's landmarks. A whole village day on the real control plane would take more
// than a minute even at its fastest tick; agent-loop.test.ts runs this brain against the real one.

describe('scripted brain', () => {
  it('is deterministic for a seed, and another seed lives another day', () => {
    const run = (seed: string) =>
      simulate(new ScriptedBrain({ seed }), newDay(), A_DAY_AND_A_BIT).map((record) => record.intents);
    const first = run('ada');
    assert.deepEqual(run('ada'), first);
    assert.notDeepEqual(run('zed'), first);
  });

  it('over a simulated day visits several kinds of place, purposefully', () => {
    const records = simulate(new ScriptedBrain({ seed: 'ada' }), newDay(), A_DAY_AND_A_BIT);
    const visited = new Set(arrivals(records).map((arrival) => kindOf(arrival.landmark)));
    assert.ok(visited.size >= 4, `visited only ${[...visited].join(', ')}`);
    assert.ok(visited.has('home'), 'never went home');
    assert.ok(
      ['cafe', 'market'].some((kind) => visited.has(kind)),
      'never ate',
    );
    assert.ok(
      ['square', 'park', 'board'].some((kind) => visited.has(kind)),
      'never met anyone',
    );
    // Purposeful, not a random walk: few moves a day, each to a landmark, and none are steps.
    const moves = records.flatMap((record) => record.intents.filter((intent) => intent.kind === 'move'));
    assert.ok(moves.length >= 5 && moves.length <= 40, `${moves.length} moves in a day`);
    assert.ok(moves.every((move) => move.kind === 'move' && 'landmark' in move.to));
  });

  it('goes home in the evening, sleeps there, and heads out for breakfast in the morning', () => {
    const records = simulate(new ScriptedBrain({ seed: 'ada' }), newDay(), A_DAY_AND_A_BIT);
    // (A nap at home in a quiet afternoon is allowed; the evening is what counts.)
    const homeArrival = arrivals(records).find(
      (arrival) => arrival.landmark === 'home-ada' && dayPart(arrival.minute) === 'evening',
    );
    assert.ok(homeArrival, `never home in the evening: ${JSON.stringify(arrivals(records))}`);
    const night = records.filter((record) => record.loop > homeArrival.loop && dayPart(record.minute) === 'night');
    assert.ok(night.length > 50);
    for (const record of night) {
      assert.equal(record.perception.self.landmark, 'home-ada', `out at night (loop ${record.loop})`);
      assert.deepEqual(movesIn(record), []);
      assert.deepEqual(saysIn(record), []);
    }
    const morningMoves = records
      .filter((record) => record.loop > homeArrival.loop && dayPart(record.minute) === 'morning')
      .flatMap(movesIn);
    assert.equal(morningMoves[0], 'cafe', `first stop of the morning: ${morningMoves[0]}`);
  });

  it('says things at its destinations, in character, short, greeting neighbours by name', () => {
    const records = simulate(new ScriptedBrain({ seed: 'ada' }), newDay(), A_DAY_AND_A_BIT);
    for (const arrival of arrivals(records)) {
      const record = records.find((candidate) => candidate.loop === arrival.loop)!;
      assert.ok(saysIn(record).length > 0, `silent on arriving at ${arrival.landmark}`);
    }
    const said = records.flatMap(saysIn);
    assert.ok(said.length >= 6);
    for (const text of said) assert.ok(text.length > 0 && text.length <= 200, text);
    const places = LANDMARKS.map((landmark) => landmark.name);
    assert.ok(
      said.some((text) => places.some((name) => text.includes(name))),
      'never names a place',
    );
    assert.ok(
      said.some((text) => /Bruno|Cleo|Dev/.test(text)),
      'never greets a neighbour',
    );
    assert.ok(
      said.some((text) => text.includes('puzzles and strong tea')),
      'never mentions what the persona loves',
    );
    // Each line is said at a landmark, never mid-walk.
    for (const record of records) {
      if (saysIn(record).length > 0) assert.equal(record.perception.self.walking, null);
    }
    // Not a chatterbox: most loops at a destination are quiet.
    assert.ok(said.length < records.length / 4, `${said.length} lines in ${records.length} loops`);
  });

  it('never issues a move while walking', () => {
    const records = simulate(new ScriptedBrain({ seed: 'ada' }), newDay(), A_DAY_AND_A_BIT, 1);
    const walkingLoops = records.filter((record) => record.perception.self.walking);
    assert.ok(walkingLoops.length > 20);
    for (const record of walkingLoops)
      assert.deepEqual(movesIn(record), [], `moved while walking in loop ${record.loop}`);
  });

  it('drops a target the server refuses and picks another place', () => {
    const records = simulate(
      new ScriptedBrain({ seed: 'ada' }),
      newDay({ unreachable: ['cafe', 'market'] }),
      A_DAY_AND_A_BIT,
    );
    const refused = records.findIndex((record) => record.outcomes.some((outcome) => outcome.status === 'rejected'));
    assert.ok(refused >= 0, 'the test needs a refused move');
    const target = movesIn(records[refused]!)[0]!;
    assert.notDeepEqual(movesIn(records[refused + 1]!), [], 'did not pick something else at once');
    assert.notEqual(movesIn(records[refused + 1]!)[0], target);
    // Not retried for a while.
    const soon = records.slice(refused + 1, refused + 40).flatMap(movesIn);
    assert.ok(!soon.includes(target), `${target} retried within 40 loops`);
    assert.ok(arrivals(records).length >= 4, 'stuck after refusals');
  });

  it('walks on by hand-built perceptions: no second move while walking, speaks on arrival', () => {
    const brain = new ScriptedBrain({ seed: 'hand' });
    const world = worldOf(neighbours());
    const base = agentAt('home-ada', { id: 'ada', displayName: 'Ada', persona: ADA_PERSONA });
    const perceive = (loop: number, tick: number, self = base): Perception => ({
      loop,
      self,
      world,
      tick,
      memory: [],
      mail: [],
    });

    // 08:00 (tick 0), at home and rested: out for breakfast.
    const first = brain.decide(perceive(1, 0));
    const move = first.find((intent) => intent.kind === 'move');
    assert.ok(move && move.kind === 'move' && 'landmark' in move.to, JSON.stringify(first));
    const target = LANDMARKS.find((landmark) => 'landmark' in move.to && landmark.id === move.to.landmark)!;
    assert.equal(target.kind, 'cafe');
    brain.reflect(
      perceive(1, 0),
      first.map((intent) => ({ intent, status: 'done' })),
    );

    const walking = {
      ...base,
      landmark: null,
      walking: { destination: target.entrance, landmark: target.id, remaining: 9 },
    };
    for (let loop = 2; loop <= 4; loop++) {
      const intents = brain.decide(perceive(loop, loop * 2, walking));
      assert.deepEqual(
        intents.map((intent) => intent.kind),
        ['idle'],
        `loop ${loop}: ${JSON.stringify(intents)}`,
      );
    }
    const arrived = { ...base, walking: null, landmark: target.id, position: target.entrance };
    const atCafe = brain.decide(perceive(5, 10, arrived));
    assert.ok(
      atCafe.some((intent) => intent.kind === 'say'),
      JSON.stringify(atCafe),
    );
    assert.ok(!atCafe.some((intent) => intent.kind === 'move'));
  });

  it('restarts a walk that stopped short, then gives the target up', () => {
    const brain = new ScriptedBrain({ seed: 'short' });
    const world = worldOf(neighbours());
    // Between places: on no landmark's area or entrance.
    const stuck = makeAgent({ id: 'ada', displayName: 'Ada', position: { x: 2, y: 2 }, landmark: null });
    const perceive = (loop: number): Perception => ({ loop, self: stuck, world, tick: 0, memory: [], mail: [] });
    const targets: string[] = [];
    for (let loop = 1; loop <= 5; loop++) {
      const intents = brain.decide(perceive(loop));
      brain.reflect(
        perceive(loop),
        intents.map((intent) => ({ intent, status: 'done' })),
      );
      for (const intent of intents)
        if (intent.kind === 'move' && 'landmark' in intent.to) targets.push(intent.to.landmark);
    }
    assert.equal(targets[0], targets[1]);
    assert.equal(targets[0], targets[2]);
    assert.notEqual(targets[3], targets[0], `kept trying ${targets[0]}: ${targets.join(', ')}`);
  });

  it("finds the agent's own home by name, else the same hashed home every time", () => {
    const ada = makeAgent({ id: 'ada', displayName: 'Ada Lovelace' });
    assert.equal(homeOf(ada, LANDMARKS)?.id, 'home-ada');
    const basil = makeAgent({ id: 'b-77', displayName: 'Basil' });
    assert.equal(homeOf(basil, LANDMARKS)?.id, 'home-basil');
    const stranger = makeAgent({ id: 'zed', displayName: 'Zed' });
    const homes = LANDMARKS.filter((landmark: Landmark) => landmark.kind === 'home').map((landmark) => landmark.id);
    const picked = homeOf(stranger, LANDMARKS)?.id;
    assert.ok(picked && homes.includes(picked));
    assert.equal(homeOf(stranger, [...LANDMARKS].reverse())?.id, picked);
    assert.equal(
      homeOf(
        stranger,
        LANDMARKS.filter((landmark) => landmark.kind !== 'home'),
      ),
      undefined,
    );
  });

  it('takes small-talk topics from the persona', () => {
    assert.deepEqual(personaTopics(ADA_PERSONA), ['puzzles and strong tea']);
    assert.deepEqual(personaTopics('A baker. Enjoys sourdough; interested in local history.'), [
      'sourdough',
      'local history',
    ]);
    assert.ok(personaTopics('').length > 0);
  });
});
