import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTransientDatabaseError } from '../src/database/transient-error.js';

// Which database errors a bill is tried again after (the gateway-crash suite shows them for real).
describe('transient database errors', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  test('an unreachable, restarting or busy server is transient', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03', '08006', '08001', '53300', '40P01']) {
      assert.ok(isTransientDatabaseError(withCode(code)), code);
    }
    assert.ok(isTransientDatabaseError(new Error('Connection terminated unexpectedly')));
    assert.ok(isTransientDatabaseError(new Error('Client has encountered a connection error and is not queryable')));
    // Node's connect to a name with several addresses fails with every attempt's error.
    assert.ok(isTransientDatabaseError(new AggregateError([withCode('ECONNREFUSED')], 'connect failed')));
  });

  test('work the database refused is not: trying again cannot help', () => {
    for (const code of ['23505', '23514', '42P01', 'L0002', '22P02']) {
      assert.ok(!isTransientDatabaseError(withCode(code)), code);
    }
    assert.ok(!isTransientDatabaseError(new Error('Cannot use a pool after calling end on the pool')));
    assert.ok(!isTransientDatabaseError(undefined));
    assert.ok(!isTransientDatabaseError('a string'));
  });
});
