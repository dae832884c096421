// Picks the brain named by VILLAGE_AGENT_BRAIN: the scripted brain (the default) or the LLM brain,
// which thinks through the village's LLM gateway and falls back to the scripted one when it cannot.
import type { AgentConfig } from '../config.js';
import type { StructuredLog } from '../structured-log.js';
import type { Brain } from './brain.js';
import { LlmBrain } from './llm-brain.js';
import { ScriptedBrain } from './scripted-brain.js';

export type BrainSettings = Pick<AgentConfig, 'brain' | 'seed' | 'villageUrl' | 'agentToken' | 'llm'>;

export function createBrain(
  settings: BrainSettings,
  { log, signal }: { log: StructuredLog; signal?: AbortSignal },
): Brain {
  switch (settings.brain) {
    case 'scripted':
      return new ScriptedBrain({ seed: settings.seed });
    case 'llm':
      return new LlmBrain({
        seed: settings.seed,
        villageUrl: settings.villageUrl,
        agentToken: settings.agentToken,
        log,
        ...(settings.llm.models ? { models: settings.llm.models } : {}),
        timeoutMs: settings.llm.timeoutMs,
        maxTokens: settings.llm.maxTokens,
        memoryChars: settings.llm.memoryChars,
        ...(signal ? { signal } : {}),
      });
  }
}
