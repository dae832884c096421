import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentConfigError, parseAgentConfig } from '../src/config.js';

const GOOD = { VILLAGE_URL: 'http://127.0.0.1:8080', VILLAGE_AGENT_ID: 'ada', VILLAGE_AGENT_TOKEN: 'tok' };

function problemsOf(env: Record<string, string | undefined>): string {
  try {
    parseAgentConfig(env);
  } catch (error) {
    assert.ok(error instanceof AgentConfigError);
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

describe('agent configuration', () => {
  it('takes the three required variables and defaults the rest', () => {
    assert.deepEqual(parseAgentConfig(GOOD), {
      villageUrl: 'http://127.0.0.1:8080',
      agentId: 'ada',
      agentToken: 'tok',
      loopMs: 2000,
      seed: 'ada',
      brain: 'scripted',
      llm: { timeoutMs: 30_000, maxTokens: 400, memoryChars: 2000 },
      reflectEveryLoops: 40,
      tools: { workspace: '/workspace', chromiumPath: '/usr/bin/chromium', egress: false },
    });
  });

  it('reads the tools’ settings: the workspace, the browser, the proxy and the egress socket', () => {
    const direct = parseAgentConfig({
      ...GOOD,
      VILLAGE_WORKSPACE: '/srv/ada',
      VILLAGE_CHROMIUM_PATH: '/opt/chromium',
      http_proxy: 'http://10.0.0.1:3128',
      NO_PROXY: 'localhost, .internal.test',
      VILLAGE_AGENT_REFLECT_LOOPS: '5',
    });
    assert.deepEqual(direct.tools, {
      workspace: '/srv/ada',
      chromiumPath: '/opt/chromium',
      proxy: { http: 'http://10.0.0.1:3128', https: 'http://10.0.0.1:3128', noProxy: ['localhost', '.internal.test'] },
      egress: false,
    });
    assert.equal(direct.reflectEveryLoops, 5);
    // In a container: the egress socket alone means "everything through the forwarder on 127.0.0.1:3128".
    const contained = parseAgentConfig({ ...GOOD, VILLAGE_EGRESS_SOCKET: '/run/village/egress.sock' });
    assert.deepEqual(contained.tools.proxy, {
      http: 'http://127.0.0.1:3128',
      https: 'http://127.0.0.1:3128',
      noProxy: [],
    });
    assert.equal(contained.tools.egress, true);
    assert.match(
      problemsOf({ ...GOOD, VILLAGE_WORKSPACE: 'relative/dir' }),
      /VILLAGE_WORKSPACE must be an absolute path/,
    );
    assert.match(problemsOf({ ...GOOD, HTTPS_PROXY: 'socks5://x:1' }), /HTTPS_PROXY must be an http:\/\/ proxy URL/);
  });

  it('reads the optional variables', () => {
    const config = parseAgentConfig({
      ...GOOD,
      VILLAGE_AGENT_LOOP_MS: '500',
      VILLAGE_AGENT_SEED: 's1',
      VILLAGE_AGENT_BRAIN: 'scripted',
    });
    assert.equal(config.loopMs, 500);
    assert.equal(config.seed, 's1');
  });

  it('reads the LLM brain and its settings', () => {
    const config = parseAgentConfig({
      ...GOOD,
      VILLAGE_AGENT_BRAIN: 'llm',
      VILLAGE_AGENT_MODELS: ' large, small ,,',
      VILLAGE_AGENT_LLM_TIMEOUT_MS: '5000',
      VILLAGE_AGENT_LLM_MAX_TOKENS: '200',
      VILLAGE_AGENT_MEMORY_CHARS: '800',
    });
    assert.equal(config.brain, 'llm');
    assert.deepEqual(config.llm, { models: ['large', 'small'], timeoutMs: 5000, maxTokens: 200, memoryChars: 800 });
  });

  it('rejects bad LLM settings, naming each variable', () => {
    const message = problemsOf({
      ...GOOD,
      VILLAGE_AGENT_MODELS: ' , ',
      VILLAGE_AGENT_LLM_TIMEOUT_MS: '10',
      VILLAGE_AGENT_LLM_MAX_TOKENS: 'lots',
      VILLAGE_AGENT_MEMORY_CHARS: '100',
    });
    assert.match(message, /VILLAGE_AGENT_MODELS must name at least one model/);
    assert.match(message, /VILLAGE_AGENT_LLM_TIMEOUT_MS must be at least 1000 ms/);
    assert.match(message, /VILLAGE_AGENT_LLM_MAX_TOKENS must be a number of tokens/);
    assert.match(message, /VILLAGE_AGENT_MEMORY_CHARS must be at least 400 characters/);
  });

  it('rejects a missing token, naming the variable', () => {
    const { VILLAGE_AGENT_TOKEN: _token, ...rest } = GOOD;
    assert.match(problemsOf(rest), /VILLAGE_AGENT_TOKEN is required/);
  });

  it('treats an empty variable as missing', () => {
    assert.match(problemsOf({ ...GOOD, VILLAGE_AGENT_TOKEN: '  ' }), /VILLAGE_AGENT_TOKEN is required/);
    assert.equal(parseAgentConfig({ ...GOOD, VILLAGE_AGENT_LOOP_MS: '' }).loopMs, 2000);
  });

  it('names every bad variable at once', () => {
    const message = problemsOf({
      VILLAGE_URL: 'ftp://example',
      VILLAGE_AGENT_TOKEN: 'tok',
      VILLAGE_AGENT_LOOP_MS: 'soon',
      VILLAGE_AGENT_BRAIN: 'gpt',
    });
    assert.match(message, /VILLAGE_URL must be an http\(s\) URL/);
    assert.match(message, /VILLAGE_AGENT_ID is required/);
    assert.match(message, /VILLAGE_AGENT_LOOP_MS must be a number/);
    assert.match(message, /VILLAGE_AGENT_BRAIN must be one of: scripted, llm/);
    assert.doesNotMatch(message, /VILLAGE_AGENT_TOKEN/);
  });

  it('rejects a loop period that is not a sane whole number of milliseconds', () => {
    assert.match(problemsOf({ ...GOOD, VILLAGE_AGENT_LOOP_MS: '1.5' }), /VILLAGE_AGENT_LOOP_MS must be a whole number/);
    assert.match(problemsOf({ ...GOOD, VILLAGE_AGENT_LOOP_MS: '0' }), /VILLAGE_AGENT_LOOP_MS must be at least 50 ms/);
  });
});
