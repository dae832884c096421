// The small parts behind the tools and the memory: the batch reporter (what the tool-call log and the
// memory send with), the fetch errand's reading of requests and pages, and the reflection notes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VillageApiError } from '@ai-village/control-plane/contract';
import { reflectionNote, toMemoryEpisode } from '../src/agent-memory.js';
import { BatchReporter } from '../src/batch-reporter.js';
import type { Episode } from '../src/brains/brain.js';
import { failureReply, fetchRequestIn, summarizePage, summaryReply } from '../src/brains/fetch-errand.js';
import { eventually } from './control-plane-process.js';
import { capturedLog } from './loop-harness.js';

describe('batch reporter', () => {
  it('sends in batches bounded by count and size, and replaces a waiting item of the same key', async () => {
    const sent: string[][] = [];
    const { log } = capturedLog('ada');
    const reporter = new BatchReporter<{ key: string; text: string }>({
      what: 'things',
      send: async (items) => void sent.push(items.map((item) => `${item.key}=${item.text}`)),
      log,
      batchItems: 3,
      batchChars: 100,
      delayMs: 10,
      keyOf: (item) => item.key,
    });
    for (const key of ['a', 'b', 'c', 'd']) reporter.add({ key, text: 'x' });
    reporter.add({ key: 'b', text: 'counted up' });
    reporter.add({ key: 'e', text: 'y'.repeat(80) });
    await eventually(() => reporter.waiting === 0, 'everything sent');
    assert.deepEqual(sent, [['a=x', 'b=counted up', 'c=x'], ['d=x'], [`e=${'y'.repeat(80)}`]]);
    assert.deepEqual(reporter.stats, { sent: 5, dropped: 0, batches: 3, failedAttempts: 0 });
  });

  it('retries what may pass, drops what is refused for good, and keeps the newest when full', async () => {
    const answers: (Error | undefined)[] = [
      new TypeError('fetch failed'),
      new VillageApiError(503, undefined, '/x'),
      undefined,
      new VillageApiError(400, { statusCode: 400, error: 'Bad Request', message: 'invalid' }, '/x'),
    ];
    const sent: number[][] = [];
    const { log, out, err } = capturedLog('ada');
    const reporter = new BatchReporter<number>({
      what: 'numbers',
      send: async (items) => {
        const answer = answers.shift();
        if (answer) throw answer;
        sent.push(items);
      },
      log,
      capacity: 3,
      batchItems: 2,
      delayMs: 5,
      maxRetryMs: 20,
    });
    for (let n = 1; n <= 5; n++) reporter.add(n);
    // 1 and 2 fell out (capacity 3); 3 and 4 failed twice, then went; 5 was refused for good.
    await eventually(() => reporter.waiting === 0, 'the queue drained');
    assert.deepEqual(sent, [[3, 4]]);
    assert.deepEqual(reporter.stats, { sent: 2, dropped: 3, batches: 1, failedAttempts: 3 });
    assert.deepEqual(
      err.map((line) => [line.level, line.message]),
      [
        ['warn', 'the control plane is not taking numbers fast enough: dropping the oldest (keeping 3)'],
        ['error', 'the control plane refused 1 numbers: 400 on /x: invalid'],
      ],
    );
    assert.ok(out.some((line) => line.message === 'could not send numbers; will retry'));
    assert.ok(out.some((line) => line.message === 'numbers reach the control plane again'));
  });

  it('flush sends what is left at once, and gives up at its deadline when the control plane is away', async () => {
    const { log } = capturedLog('ada');
    const sent: number[] = [];
    const reporter = new BatchReporter<number>({
      what: 'numbers',
      send: async (items) => void sent.push(...items),
      log,
      delayMs: 60_000,
    });
    reporter.add(1);
    reporter.add(2);
    await reporter.flush(1000);
    assert.deepEqual(sent, [1, 2]);
    const down = new BatchReporter<number>({
      what: 'numbers',
      send: () => Promise.reject(new TypeError('fetch failed')),
      log,
      delayMs: 60_000,
    });
    down.add(1);
    const started = Date.now();
    await down.flush(200);
    assert.ok(Date.now() - started < 1000);
    assert.equal(down.waiting, 1);
  });
});

describe('fetch errand', () => {
  it('hears a request to fetch a link, and only a request', () => {
    assert.equal(
      fetchRequestIn('@ada please fetch https://example.org/a?b=1 and summarize.'),
      'https://example.org/a?b=1',
    );
    assert.equal(fetchRequestIn('Could you read http://example.org/news?'), 'http://example.org/news');
    assert.equal(fetchRequestIn('What is on https://example.org/x), thanks'), 'https://example.org/x');
    assert.equal(fetchRequestIn('I wrote about https://example.org/mine last week.'), undefined);
    assert.equal(fetchRequestIn('please fetch the milk'), undefined);
    assert.equal(fetchRequestIn('fetch ftp://example.org/file'), undefined);
  });

  it('summarizes HTML by its title and first sentences, leaving out scripts and navigation', () => {
    const page = summarizePage({
      contentType: 'text/html',
      bytes: 500,
      body: `<title>The &quot;Mill&quot; &#8212; News</title><style>p{}</style><nav>Menu Menu</nav>
        <p>${'A sentence that goes on for a while. '.repeat(12)}</p><script>alert(1)</script>`,
    });
    assert.equal(page.title, 'The "Mill" — News');
    assert.ok(page.text.length <= 320, String(page.text.length));
    assert.match(page.text, /^A sentence that goes on for a while\. A sentence/);
    assert.match(page.text, /\.$/);
    assert.doesNotMatch(page.text, /Menu|alert/);
  });

  it('says what a page that is not text is, and writes replies that cannot link, embed or mention', () => {
    assert.equal(
      summarizePage({ contentType: 'application/json', bytes: 42, body: '{}' }).text,
      'It is a JSON document of 42 bytes, not a page to summarize.',
    );
    assert.equal(
      summaryReply('https://example.org/', { title: 'Hi [there](javascript:x)', text: 'Ask @bo. ![img](x)' }),
      '**Hi \\[there\\](javascript:x)**: Ask @\u200bbo. \\!\\[img\\](x)\n\nSource: <https://example.org/>',
    );
    assert.equal(
      failureReply('https://x.test/', 'HTTP 404'),
      'I tried to fetch <https://x.test/>, but it did not work: HTTP 404',
    );
  });
});

describe('memory lines and reflection notes', () => {
  const at = (loop: number, fields: Partial<Episode>): Episode => ({
    loop,
    tick: loop,
    position: { x: 1, y: 1 },
    landmark: null,
    intent: { kind: 'idle' },
    status: 'done',
    ...fields,
  });

  it('writes a short note of what the agent did, and none when it only idled', () => {
    const episodes: Episode[] = [
      at(1, { intent: { kind: 'move', to: { landmark: 'cafe' } } }),
      at(2, { intent: { kind: 'say', text: 'Hello' } }),
      at(3, { intent: { kind: 'idle', why: 'walking' }, repeats: 4 }),
      at(7, { intent: { kind: 'post', title: 'Q', body: '', tags: [] }, note: 'post #12 open' }),
      at(8, { intent: { kind: 'reply', postId: 4, body: 'yes' } }),
      at(9, { intent: { kind: 'tool', call: { tool: 'http', input: { url: 'https://x.test' } } } }),
      at(9, {
        intent: { kind: 'tool', call: { tool: 'shell', input: { command: 'id' } } },
        status: 'rejected',
        note: 'the shell tool is not in tier commons',
      }),
    ];
    assert.equal(
      reflectionNote(episodes, 1, 10),
      'Loops 1-10: went to cafe; said 1 thing; posted post #12 open; replied on #4; used tools 2 times (http, shell; 1 failed); ' +
        '1 refused (last: tool: the shell tool is not in tier commons); idle 4 loops.',
    );
    assert.equal(reflectionNote([at(1, {}), at(2, { repeats: 3 })], 1, 2), undefined);
  });

  it('keeps an episode within what the control plane takes, cutting a tool input’s bulk', () => {
    const line = toMemoryEpisode(
      at(1, {
        intent: { kind: 'tool', call: { tool: 'file', input: { op: 'write', path: 'a', content: 'x'.repeat(9000) } } },
      }),
      'run:1',
    );
    assert.ok(JSON.stringify(line).length < 4000);
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`field${i}`, 'y'.repeat(300)]));
    const huge = toMemoryEpisode(at(2, { intent: { kind: 'tool', call: { tool: 'http', input: many } } }), 'run:2');
    assert.ok(JSON.stringify(huge).length < 4000);
    assert.equal(huge.intent.kind, 'tool');
  });
});
