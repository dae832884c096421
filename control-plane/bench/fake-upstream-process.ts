// The gateway benchmark's LLM upstream: the tests' fake OpenAI-compatible server
// (test/support/fake-llm-upstream.ts) in a process of its own, so that answering the load does not
// take event-loop time from the benchmark's clients or from the gateway. Started with `fork` by
// gateway-bench.ts and driven over IPC:
//   -> { id, type: 'behave', behaviour, words?, completionTokens? }      every request from now on
//   -> { id, type: 'stats' }                                             requests served, most in flight
//   <- { id, ok: true, ... } for each; { type: 'ready', baseUrl } once listening.
// It stops when its parent goes away (the IPC channel closes) or on SIGTERM.
import { startFakeUpstream, type FakeAnswerBehaviour } from '../test/support/fake-llm-upstream.js';

export type FakeUpstreamCommand =
  | {
      id: number;
      type: 'behave';
      /** Delays and the like (plain data: it crosses the IPC channel). */
      behaviour: FakeAnswerBehaviour;
      /** Answer this many words (one stream event each) instead of the fake's default 16 at most. */
      words?: number;
      /** 'max_tokens': report that every call used all the tokens it was allowed (the worst case). */
      completionTokens?: 'max_tokens';
    }
  | { id: number; type: 'stats' };

export type FakeUpstreamReply =
  | { type: 'ready'; baseUrl: string }
  | { id: number; ok: true; requests?: number; maxInFlight?: number; inFlight?: number };

const fake = await startFakeUpstream({ name: 'bench', models: ['small'] });
const send = (message: FakeUpstreamReply) => process.send?.(message);

process.on('message', (message: FakeUpstreamCommand) => {
  void (async () => {
    if (message.type === 'behave') {
      // reset() forgets the recorded requests too, so that a long run does not keep them all.
      await fake.reset();
      const behaviour: FakeAnswerBehaviour = { ...message.behaviour };
      const { words, completionTokens } = message;
      if (words !== undefined) {
        const content = Array.from({ length: words }, (_, i) => `word${i + 1}`).join(' ');
        behaviour.respond = () => ({ content });
      } else if (completionTokens === 'max_tokens') {
        behaviour.respond = (body) => ({ completionTokens: body.max_completion_tokens ?? body.max_tokens ?? 16 });
      }
      await fake.behave(behaviour, 'always');
      send({ id: message.id, ok: true });
    } else {
      send({
        id: message.id,
        ok: true,
        requests: fake.requests.length,
        maxInFlight: fake.maxInFlight,
        inFlight: fake.inFlight,
      });
    }
  })();
});

const stop = () => void fake.close().finally(() => process.exit(0));
process.once('disconnect', stop);
process.once('SIGTERM', stop);
send({ type: 'ready', baseUrl: fake.baseUrl });
