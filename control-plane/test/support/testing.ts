// Test helpers for every workspace's tests (exported as `@ai-village/control-plane/testing`): a fresh
// database per test file, a Redis key prefix and its clean-up, free ports, bounded waiting, a fake
// OpenAI-compatible LLM upstream. They touch only the services on loopback; none of them imports the
// control plane itself.
export { eventually } from './eventually.js';
export { freePort } from './free-port.js';
export {
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteRedisKeys,
  testRedisPrefix,
  type TestDatabase,
} from './test-database.js';
export {
  startFakeUpstream,
  type FakeAnswer,
  type FakeAnswerBehaviour,
  type FakeBehaviour,
  type FakeChatRequestBody,
  type FakeRequest,
  type FakeResponder,
  type FakeUpstream,
  type FakeUpstreamOptions,
} from './fake-llm-upstream.js';
