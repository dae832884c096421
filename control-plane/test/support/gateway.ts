import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type pg from 'pg';
import { eventually } from './eventually.js';
import type { TestApp } from './test-app.js';

// What the compute gateway's test files share: prices a test can add up by hand, agents with an
// OpenAI client, the assertion on an OpenAI-style refusal, and the usage records of the database.

/** 1 mill per prompt token and 2 per completion token. */
export const PRICE = { promptPricePerMtok: 1_000_000, completionPricePerMtok: 2_000_000 };
export const hello = [{ role: 'user' as const, content: 'Hello there, village!' }];

/** A control plane to make agents on: a test app, or a replica process with an admin client. */
type Village = Pick<TestApp, 'url' | 'admin'>;

/** Makes agents on `village`, `prefix1`, `prefix2`..., each with `balance` mills and an OpenAI client for any replica. */
export function agentMaker(village: Village, prefix = 'thinker') {
  let agents = 0;
  return async (balance = 0) => {
    const n = ++agents;
    const created = await village.admin.createAgent({ id: `${prefix}${n}`, displayName: `Thinker ${n}` });
    if (balance > 0) {
      await village.admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${created.id}`,
        amount: balance,
        reason: 'grant',
      });
    }
    const openai = (app: Village = village, timeout = 10_000) =>
      new OpenAI({ baseURL: `${app.url}/v1`, apiKey: created.token, maxRetries: 0, timeout, logLevel: 'off' });
    return { ...created, openai };
  };
}

/** The call is refused with an OpenAI API error of this status, code (null: any) and message. */
export async function refused(call: Promise<unknown>, status: number, code: string | null, message: RegExp) {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, status, error.message);
    if (code) assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

/** An agent's usage records and balance, and a wait for its calls to be billed. */
export function usageBook(village: TestApp, database: pg.Pool) {
  const usageOf = async (agentId: string) =>
    (await database.query('SELECT * FROM llm_usage WHERE agent_id = $1 ORDER BY id', [agentId])).rows;
  const balanceOf = async (agentId: string) => (await village.admin.balance(agentId)).balance;
  /** The answer comes before the bill: waits for `count` usage records and nothing held. */
  const settled = async (agentId: string, count: number) => {
    await eventually(async () => {
      const rows = await usageOf(agentId);
      return rows.length === count && (await village.admin.balance(agentId)).held === 0;
    }, `${count} settled calls of ${agentId}`);
    return usageOf(agentId);
  };
  return { usageOf, balanceOf, settled };
}

/** A stream read to its end: the text of its first choice and the usage, if a chunk carried it. */
export async function readStream(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage };
}
