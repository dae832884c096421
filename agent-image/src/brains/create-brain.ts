// Picks the brain named by VILLAGE_AGENT_BRAIN. The LLM brain (a later issue) slots in here.
import type { Brain, BrainKind } from './brain.js';
import { ScriptedBrain } from './scripted-brain.js';

export interface BrainSettings {
  brain: BrainKind;
  seed: string;
}

export function createBrain(settings: BrainSettings): Brain {
  switch (settings.brain) {
    case 'scripted':
      return new ScriptedBrain({ seed: settings.seed });
  }
}
