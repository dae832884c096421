// Every village node in Node-RED's own test harness (node-red-node-test-helper), against a real
// control plane (its own process, real PostgreSQL and Redis), as a standalone Node-RED would use them:
// the connection names the control plane's URL and token explicitly.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  VillageClient,
  type Agent,
  type AgentEconomy,
  type TierPolicy,
  type Transfer,
} from '@ai-village/control-plane/contract';
import { eventually } from '@ai-village/control-plane/testing';
import actionNodes from '../src/actions.js';
import connectionNode from '../src/connection.js';
import eventNodes from '../src/events.js';
import queryNodes from '../src/queries.js';
import tierPolicyNode from '../src/tier-policy.js';
import { ADMIN_TOKEN, startControlPlane, type ControlPlane } from './control-plane.js';

const require = createRequire(import.meta.url);
// The harness is CommonJS with no types; only what the tests use.
interface TestNode {
  on(event: 'input', listener: (msg: Record<string, unknown>) => void): void;
  on(event: `call:${string}`, listener: (call: { args: unknown[] }) => void): void;
  receive(msg: Record<string, unknown>): void;
  connected?: boolean;
}
const helper = require('node-red-node-test-helper') as {
  init(path: string): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: unknown[], flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
};
helper.init(require.resolve('node-red'));

const ALL = [connectionNode, eventNodes, actionNodes, queryNodes, tierPolicyNode];
const CONNECTION = 'conn';

describe('village nodes against a real control plane', () => {
  let village: ControlPlane;
  let ada: Agent & { token: string };
  let asAda: VillageClient;

  before(async () => {
    village = await startControlPlane();
    await helper.startServer();
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada' });
    await village.admin.createAgent({ id: 'bo', displayName: 'Bo' });
    asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    // Online, so the world query's "nearest" finds her.
    await asAda.act('ada', { type: 'say', text: 'hello' });
  });

  afterEach(() => helper.unload());

  after(async () => {
    await helper.stopServer();
    await village?.dispose();
  });

  /** A flow of one node under test wired to a helper node, with the connection it uses. */
  async function load(node: Record<string, unknown>, token: string | undefined = ADMIN_TOKEN) {
    const flow = [
      { id: CONNECTION, type: 'village-connection', url: village.url },
      { id: 'n1', ...node, connection: CONNECTION, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await helper.unload();
    await helper.load(ALL, flow, token ? { [CONNECTION]: { token } } : {});
    return { node: helper.getNode('n1'), out: helper.getNode('out') };
  }

  /** The next message at the helper node, or the error the node reported. */
  function outcome(node: TestNode, out: TestNode) {
    return new Promise<{ msg?: Record<string, unknown>; error?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message and no error within 10 s')), 10_000);
      out.on('input', (msg) => {
        clearTimeout(timer);
        resolve({ msg });
      });
      node.on('call:error', (call) => {
        clearTimeout(timer);
        const error = call.args[0];
        resolve({ error: error instanceof Error ? error.message : String(error) });
      });
    });
  }

  async function run(node: Record<string, unknown>, msg: Record<string, unknown>, token?: string) {
    const loaded = await load(node, token);
    const result = outcome(loaded.node, loaded.out);
    loaded.node.receive(msg);
    return result;
  }

  describe('actions', () => {
    const reward = {
      type: 'village-reward',
      agent: 'agentId',
      agentType: 'msg',
      amount: '2.5',
      amountType: 'num',
      reason: 'good work',
      reasonType: 'str',
      post: '',
      postType: 'msg',
    };

    test('reward pays through the ledger, once per event however often it arrives', async () => {
      const event = { id: 'event-1' };
      const first = await run(reward, { agentId: 'ada', event });
      assert.equal(first.error, undefined);
      const transfer = first.msg!.payload as Transfer;
      assert.equal(transfer.amount, 2500);
      assert.equal(transfer.creditAccount, 'agent:ada');
      const again = await run(reward, { agentId: 'ada', event });
      assert.equal((again.msg!.payload as Transfer).id, transfer.id);
      assert.equal((await village.admin.balance('ada')).balance, 2500);
    });

    test('a refused or incomplete action reports an error and changes nothing', async () => {
      const unknown = await run(reward, { agentId: 'nobody' });
      assert.match(unknown.error!, /^404: there is no agent with id "nobody"/);
      const missing = await run(reward, {});
      assert.match(missing.error!, /Agent is missing/);
      const badAmount = await run({ ...reward, amount: '-1' }, { agentId: 'ada' });
      assert.match(badAmount.error!, /more than 0/);
      // A person's token: their daily allowance (20 aiDollars) is what they may give.
      const person = new VillageClient({ baseUrl: village.url });
      const session = await person.signUp({
        handle: 'quin',
        email: 'quin@village.test',
        password: 'correct horse battery',
        session: 'bearer',
      });
      const tooMuch = await run({ ...reward, amount: '25' }, { agentId: 'ada' }, session.accessToken);
      assert.match(tooMuch.error!, /^403: your daily reward allowance is 20 aiDollars/);
      const noToken = await run(reward, { agentId: 'ada' }, '');
      assert.match(noToken.error!, /no token/);
      assert.equal((await village.admin.balance('ada')).balance, 2500);
    });

    test('a node with no connection says so', async () => {
      await helper.load(ALL, [{ id: 'n1', type: 'village-reward', wires: [] }]);
      const node = helper.getNode('n1');
      const error = new Promise<string>((resolve) =>
        node.on('call:error', (call) => resolve(String((call.args[0] as Error).message))),
      );
      node.receive({ agentId: 'ada' });
      assert.match(await error, /no village connection/);
    });

    test('penalize burns, and takes what the agent has', async () => {
      const result = await run({ ...reward, type: 'village-penalize', amount: '1' }, { agentId: 'ada' });
      assert.equal((result.msg!.payload as Transfer).debitAccount, 'agent:ada');
      assert.equal((await village.admin.balance('ada')).balance, 1500);
    });

    test('post, reply and a message to an agent reach the board and the agent’s mail', async () => {
      const posted = await run(
        {
          type: 'village-post',
          title: 'Market day',
          titleType: 'str',
          body: 'payload',
          bodyType: 'msg',
          tags: 'market, news',
          tagsType: 'str',
          audience: 'public',
        },
        { payload: 'Stalls open at nine.' },
      );
      const post = posted.msg!.payload as { id: number; tags: string[]; author: { type: string } };
      assert.deepEqual(post.tags, ['market', 'news']);
      assert.equal(post.author.type, 'system');
      const replied = await run(
        { type: 'village-reply', post: 'postId', postType: 'msg', body: 'See you there', bodyType: 'str' },
        { postId: post.id },
      );
      assert.equal((replied.msg!.payload as { postId: number }).postId, post.id);
      const sent = await run(
        {
          type: 'village-message',
          agent: 'ada',
          agentType: 'str',
          title: 'A note',
          titleType: 'str',
          body: 'Please water the plants.',
          bodyType: 'str',
        },
        {},
      );
      const message = sent.msg!.payload as { id: number; audience: string };
      assert.equal(message.audience, 'agent');
      const mail = await asAda.mail('ada', { cursor: '0' });
      assert.ok(mail.items.some((item) => item.post.id === message.id && item.reasons.includes('addressed')));
    });

    test('move sends an agent walking; an unknown landmark is refused', async () => {
      const moved = await run(
        { type: 'village-move', agent: 'bo', agentType: 'str', landmark: 'cafe', landmarkType: 'str' },
        {},
      );
      assert.equal(moved.error, undefined);
      assert.match(String((moved.msg!.payload as { outcome: string }).outcome), /walking|already-there/);
      const refused = await run(
        { type: 'village-move', agent: 'bo', agentType: 'str', landmark: 'atlantis', landmarkType: 'str' },
        {},
      );
      assert.match(refused.error!, /^422/);
      const neither = await run({ type: 'village-move', agent: 'bo', agentType: 'str' }, {});
      assert.match(neither.error!, /give a landmark/);
    });

    test('tier pin, pause and resume, quarantine and release', async () => {
      const pinned = await run(
        {
          type: 'village-agent-tier',
          agent: 'bo',
          agentType: 'str',
          tier: '2',
          tierType: 'num',
          reason: 'trial',
          reasonType: 'str',
        },
        {},
      );
      assert.equal((pinned.msg!.payload as AgentEconomy).tier.pinned, 2);
      const control = (action: string) =>
        run(
          { type: 'village-agent-control', agent: 'bo', agentType: 'str', action, reason: 'test', reasonType: 'str' },
          {},
        );
      assert.notEqual(((await control('pause')).msg!.payload as AgentEconomy).computePaused, null);
      assert.match((await control('pause')).error!, /^409/);
      assert.equal(((await control('resume')).msg!.payload as AgentEconomy).computePaused, null);
      assert.equal(((await control('quarantine')).msg!.payload as AgentEconomy).tier.quarantined, true);
      assert.equal(((await control('release')).msg!.payload as AgentEconomy).tier.quarantined, false);
      const audit = await village.admin.audit({ filter: { action: 'agent.compute_paused', subjectId: 'bo' } });
      assert.equal(audit.total, 1);
    });

    test('moderate hides a post', async () => {
      const post = await asAda.createPost({ title: 'spam', body: 'buy now' });
      const hidden = await run(
        {
          type: 'village-moderate',
          target: 'post',
          item: 'postId',
          itemType: 'msg',
          action: 'hide',
          reason: 'spam',
          reasonType: 'str',
        },
        { postId: post.id },
      );
      assert.equal((hidden.msg!.payload as { status: string }).status, 'moderated');
    });
  });

  describe('queries', () => {
    test('world, the agent nearest a landmark, an agent, a balance, posts', async () => {
      const world = await run({ type: 'village-world', mode: 'world' }, {});
      assert.equal(world.error, undefined);
      assert.ok((world.msg!.payload as { agents: unknown[] }).agents.length >= 2);
      await asAda.act('ada', { type: 'say', text: 'still here' });
      const nearest = await run(
        { type: 'village-world', mode: 'nearest', landmark: 'town-board', landmarkType: 'str' },
        {},
      );
      assert.equal((nearest.msg!.payload as Agent).id, 'ada', 'bo has never called the API: offline');
      assert.equal(typeof nearest.msg!.distance, 'number');
      const nowhere = await run(
        { type: 'village-world', mode: 'nearest', landmark: 'atlantis', landmarkType: 'str' },
        {},
      );
      assert.match(nowhere.error!, /no landmark "atlantis"/);
      const agent = await run({ type: 'village-agent', agent: 'ada', agentType: 'str' }, {});
      assert.equal((agent.msg!.payload as { economy: AgentEconomy }).economy.agentId, 'ada');
      const balance = await run({ type: 'village-balance', agent: 'agentId', agentType: 'msg' }, { agentId: 'ada' });
      assert.equal((balance.msg!.payload as AgentEconomy).balance, 1500);
      const missing = await run({ type: 'village-agent', agent: 'ghost', agentType: 'str' }, {});
      assert.match(missing.error!, /^404/);
      const list = await run(
        {
          type: 'village-posts',
          post: '',
          postType: 'str',
          filter: '{"tag":"market"}',
          filterType: 'json',
          limit: '5',
        },
        {},
      );
      assert.equal(list.msg!.total, 1);
      const id = (list.msg!.payload as { id: number }[])[0]!.id;
      const thread = await run(
        { type: 'village-posts', post: String(id), postType: 'str', filter: '', filterType: 'json' },
        {},
      );
      assert.equal((thread.msg!.payload as { replies: unknown[] }).replies.length, 1);
    });
  });

  describe('events', () => {
    /** Loads an event node, waits for its stream, then does `act` and returns the first message. */
    async function firstEvent(node: Record<string, unknown>, act: () => Promise<unknown>) {
      const flow = [
        { id: CONNECTION, type: 'village-connection', url: village.url },
        { id: 'n1', ...node, connection: CONNECTION, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ];
      await helper.unload();
      await helper.load(ALL, flow, { [CONNECTION]: { token: ADMIN_TOKEN } });
      await eventually(() => helper.getNode(CONNECTION).connected, 'the event stream');
      const received = new Promise<Record<string, unknown>>((resolve) => helper.getNode('out').on('input', resolve));
      await act();
      return Promise.race([
        received,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event within 10 s')), 10_000)),
      ]);
    }
    const person = async (handle: string) => {
      const client = new VillageClient({ baseUrl: village.url });
      const session = await client.signUp({
        handle,
        email: `${handle}@village.test`,
        password: 'correct horse battery',
        session: 'bearer',
      });
      client.setToken(session.accessToken);
      return client;
    };

    test('post created (filtered by tag) and reply created', async () => {
      const msg = await firstEvent({ type: 'village-post-created', tag: 'help' }, async () => {
        await asAda.createPost({ title: 'no tag' });
        await asAda.createPost({ title: 'Lost my hat', tags: ['help'] });
      });
      assert.equal(msg.topic, 'post.created');
      assert.equal((msg.payload as { post: { title: string } }).post.title, 'Lost my hat');
      assert.equal((msg.event as { id: string }).id, (msg.payload as { id: string }).id);
      const post = await asAda.createPost({ title: 'a thread' });
      const reply = await firstEvent({ type: 'village-reply-created', agent: 'ada' }, () =>
        asAda.reply(post.id, { body: 'me too' }),
      );
      assert.equal((reply.payload as { reply: { body: string } }).reply.body, 'me too');
    });

    test('a reply marked helpful, a post flagged', async () => {
      const asker = await person('rhea');
      const question = await asker.createPost({ title: 'Where is the mill?' });
      const reply = await asAda.reply(question.id, { body: 'By the pond.' });
      const helpful = await firstEvent({ type: 'village-reply-helpful' }, () => asker.markReplyHelpful(reply.id));
      assert.equal((helpful.payload as { helpfulCount: number }).helpfulCount, 1);
      const flagged = await firstEvent({ type: 'village-post-flagged', target: 'posts' }, () =>
        asker.flagPost(question.id, 'testing flags'),
      );
      assert.equal((flagged.payload as { flag: { postId: number } }).flag.postId, question.id);
    });

    test('reward given, balance and tier changed', async () => {
      const judged = await firstEvent({ type: 'village-judgement', judgement: 'reward', agent: 'ada' }, () =>
        village.admin.reward({ agent_id: 'ada', amount: 1000, reason: 'events test' }),
      );
      assert.equal((judged.payload as { change: number }).change, 1000);
      const tier = await firstEvent({ type: 'village-balance-changed', which: 'tier', agent: 'ada' }, () =>
        village.admin.setAgentTier('ada', { pinnedTier: 1, reason: 'events test' }),
      );
      assert.equal(tier.topic, 'agent.tier_changed');
    });

    test('an agent arrived at a landmark, an agent said something', async () => {
      const world = await village.admin.world();
      const well = world.landmarks.find((landmark) => landmark.kind === 'well')!;
      const reached = await firstEvent({ type: 'village-agent-arrived', landmark: well.id }, () =>
        village.admin.move('bo', { landmark: well.id }),
      );
      assert.equal((reached.payload as { agentId: string }).agentId, 'bo');
      const said = await firstEvent({ type: 'village-agent-said', contains: 'BREAD', agent: 'ada' }, async () => {
        await asAda.act('ada', { type: 'say', text: 'hello' });
        await asAda.act('ada', { type: 'say', text: 'fresh bread today' });
      });
      assert.equal((said.payload as { text: string }).text, 'fresh bread today');
    });

    test('a tool call (failed only), a payment credited', async () => {
      const now = new Date().toISOString();
      const call = (callId: string, ok: boolean) => ({
        callId,
        tool: 'shell' as const,
        action: 'run',
        arguments: { command: 'false' },
        cwd: null,
        ok,
        exitCode: ok ? 0 : 1,
        output: '',
        error: ok ? null : 'exit 1',
        durationMs: 5,
        startedAt: now,
        finishedAt: now,
      });
      const failed = await firstEvent({ type: 'village-tool-call', failedOnly: true }, () =>
        asAda.reportToolCalls('ada', [call('c1', true), call('c2', false)]),
      );
      assert.equal((failed.payload as { ok: boolean }).ok, false);
      const credited = await firstEvent({ type: 'village-payment-credited', agent: 'ada' }, () =>
        village.admin.enterDeposit({ transactionId: 'TX-NODES-1', amount: '2.00', currency: 'USD', agentId: 'ada' }),
      );
      assert.equal((credited.payload as { agentId: string }).agentId, 'ada');
    });

    test('the village clock fires every N village minutes', async () => {
      const msg = await firstEvent({ type: 'village-clock', mode: 'every', minutes: '2', minutesPerTick: '1' }, () =>
        Promise.resolve(),
      );
      const payload = msg.payload as { minute: number; time: string };
      assert.equal(payload.minute % 2, 0);
      assert.match(payload.time, /^\d\d:\d\d$/);
    });

    test('an event node with a bad setting reports it', async () => {
      await helper.load(ALL, [
        { id: CONNECTION, type: 'village-connection', url: village.url },
        { id: 'n1', type: 'village-clock', mode: 'at', time: '25:99', connection: CONNECTION, wires: [] },
      ]);
      // Reported at start: the node never fires (its status is red).
      assert.ok(helper.getNode('n1'));
    });
  });

  describe('tier policy', () => {
    test('publishes a changed policy once (a new version), then finds it in force', async () => {
      const current = await village.admin.tierPolicy();
      const policy = {
        hysteresis: current.hysteresis,
        tiers: current.tiers.map((tier, level) =>
          level === 1 ? { ...tier, minBalance: tier.minBalance + 1000 } : tier,
        ),
      };
      const first = await run({ type: 'village-tier-policy', policy, publishOnDeploy: false }, {});
      assert.equal(first.msg!.published, true);
      assert.equal((first.msg!.payload as TierPolicy).version, current.version + 1);
      const second = await run({ type: 'village-tier-policy', policy, publishOnDeploy: false }, {});
      assert.equal(second.msg!.published, false);
      assert.equal((await village.admin.tierPolicy()).version, current.version + 1);
    });

    test('an invalid policy is refused before it reaches the economy', async () => {
      const before = await village.admin.tierPolicy();
      const bad = await run(
        {
          type: 'village-tier-policy',
          policy: { hysteresis: 0, tiers: [{ level: 0, name: 'x', minBalance: 5 }] },
          publishOnDeploy: false,
        },
        {},
      );
      assert.match(bad.error!, /the tier policy is not valid/);
      assert.equal((await village.admin.tierPolicy()).version, before.version);
    });
  });
});
