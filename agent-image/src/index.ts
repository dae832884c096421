// What a launcher (the control plane's dev launcher, a test) needs to run an agent in-process or to
// check the environment it will hand to `node agent-image/dist/src/main.js`.
// This package may import @ai-village/control-plane/contract, zod and node: built-ins, nothing else.
export { runAgent, AgentAuthError, describeIntent, WORLD_REFRESH_LOOPS, MAX_BACKOFF_MS } from './agent-loop.js';
export type { RunAgentOptions, AgentRunSummary } from './agent-loop.js';
export { AgentEnvSchema, AgentConfigError, parseAgentConfig } from './config.js';
export type { AgentConfig, AgentEnv } from './config.js';
export { BRAIN_KINDS } from './brains/brain.js';
export type {
  Brain,
  BrainKind,
  Emote,
  Episode,
  Intent,
  IntentOutcome,
  MoveTarget,
  Perception,
} from './brains/brain.js';
export { createBrain } from './brains/create-brain.js';
export { ScriptedBrain, homeOf } from './brains/scripted-brain.js';
export { EpisodicLog, EPISODIC_LOG_CAPACITY } from './episodic-log.js';
export { StructuredLog } from './structured-log.js';
export type { LogSink, Phase } from './structured-log.js';
