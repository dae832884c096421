import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.js';

const valid = { DATABASE_URL: 'postgresql://u@127.0.0.1/db', REDIS_URL: 'redis://127.0.0.1:6379' };

describe('configuration from the environment', () => {
  test('defaults fill everything but the two URLs', () => {
    const config = loadConfig(valid);
    assert.equal(config.PORT, 8080);
    assert.equal(config.VILLAGE_CAST, 3);
    assert.equal(config.VILLAGE_TICK_MS, 1000);
    assert.equal(config.VILLAGE_MIGRATE, true);
    assert.ok(config.VILLAGE_REPLICA_ID.length > 0);
    assert.ok(config.VILLAGE_DATA_DIR.startsWith('/'), 'the data dir is made absolute');
  });

  test('a missing or bad value stops start-up with a message naming the variable', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      assert.fail('expected a ConfigError');
    };
    assert.match(problems({ REDIS_URL: valid.REDIS_URL }), /DATABASE_URL is required/);
    assert.match(
      problems({ ...valid, DATABASE_URL: 'mysql://x' }),
      /DATABASE_URL must be a URL starting with postgres/,
    );
    assert.match(problems({ ...valid, PORT: 'eighty' }), /PORT must be a whole number/);
    assert.match(problems({ ...valid, VILLAGE_TICK_MS: '10' }), /VILLAGE_TICK_MS must be between 50 and 60000/);
    assert.match(problems({ ...valid, VILLAGE_CAST: '-1' }), /VILLAGE_CAST/);
    assert.match(problems({ ...valid, VILLAGE_ADMIN_TOKEN: 'short' }), /VILLAGE_ADMIN_TOKEN must be at least 24/);
    const both = problems({ PORT: '99999' });
    assert.match(both, /PORT/);
    assert.match(both, /DATABASE_URL/);
    assert.match(both, /REDIS_URL/);
  });

  test('a bad VILLAGE_LLM_UPSTREAMS stops start-up with one line naming the variable', () => {
    const upstream = {
      name: 'gpu1',
      baseUrl: 'http://gpu1:8000/v1',
      models: ['small'],
      maxConcurrency: 4,
      timeoutMs: 60_000,
    };
    const lineFor = (value: unknown) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      try {
        loadConfig({ ...valid, VILLAGE_LLM_UPSTREAMS: text });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 1, error.message);
        const line = error.problems[0]!;
        assert.doesNotMatch(line, /\n/);
        assert.match(line, /^VILLAGE_LLM_UPSTREAMS /);
        return line;
      }
      assert.fail(`expected a ConfigError for ${text}`);
    };
    assert.equal(
      loadConfig({ ...valid, VILLAGE_LLM_UPSTREAMS: JSON.stringify([upstream]) }).VILLAGE_LLM_UPSTREAMS.length,
      1,
    );
    assert.match(lineFor('[{name: gpu1}'), /must be JSON/);
    const { baseUrl: _baseUrl, ...withoutBaseUrl } = upstream;
    assert.match(lineFor([withoutBaseUrl]), /0\.baseUrl: .*baseUrl/);
    assert.match(lineFor([{ ...upstream, baseUrl: 'gpu1:8000' }]), /0\.baseUrl: baseUrl must be an http\(s\) URL/);
    for (const maxConcurrency of [0, -1, 2.5, '4', 10_001]) {
      assert.match(lineFor([{ ...upstream, maxConcurrency }]), /0\.maxConcurrency: /, String(maxConcurrency));
    }
    assert.match(lineFor([upstream, { ...upstream, name: 'gpu2', maxConcurrency: null }]), /1\.maxConcurrency: /);
  });

  test('main.js refuses to start on a bad value and says which', async () => {
    const { spawnSync } = await import('node:child_process');
    const main = new URL('../src/main.js', import.meta.url).pathname;
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, PORT: 'eighty' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /PORT must be a whole number/);
    assert.match(result.stderr, /DATABASE_URL is required/);
  });

  test('an empty value means the default', () => {
    assert.equal(loadConfig({ ...valid, PORT: '' }).PORT, 8080);
  });
});
