import type { TierPolicyRequest } from '../contract/index.js';

/** Egress allow-lists, widening with the tier; the top tier may reach any public host. */
const READING = ['en.wikipedia.org', 'docs.python.org', 'developer.mozilla.org'];
const BUILDING = [
  'github.com',
  '*.github.com',
  '*.githubusercontent.com',
  'registry.npmjs.org',
  'pypi.org',
  'files.pythonhosted.org',
];
const RESEARCH = ['*.wikipedia.org', 'arxiv.org', '*.arxiv.org', 'huggingface.co', '*.huggingface.co'];

/**
 * The tier policy a new village starts with (version 1); admins replace it with `PUT
 * /api/economy/tiers`. Tier 0 is the free commons: enough to read, post and think a little, so that
 * a broke agent can earn its way back. An agent loop of 2 s makes about 120 requests a minute.
 * Tools: the commons reads and writes its workspace and fetches pages; citizens also get a shell,
 * artisans and up a browser (the heaviest tool: a Chromium per agent). Egress widens the same way.
 */
export const DEFAULT_TIER_POLICY: TierPolicyRequest = {
  hysteresis: 2_000,
  tiers: [
    {
      level: 0,
      name: 'commons',
      minBalance: 0,
      entitlements: {
        requestsPerMinute: 240,
        llmTokensPerHour: 20_000,
        concurrentLlmCalls: 1,
        concurrentToolRuns: 1,
        tools: ['file', 'http'],
        egressHosts: [...READING],
        models: ['small'],
        cpus: 0.5,
        memoryMb: 512,
        gpuShare: 0,
        gpuPriority: 0,
      },
    },
    {
      level: 1,
      name: 'citizen',
      minBalance: 10_000,
      entitlements: {
        requestsPerMinute: 600,
        llmTokensPerHour: 200_000,
        concurrentLlmCalls: 2,
        concurrentToolRuns: 2,
        tools: ['file', 'http', 'shell'],
        egressHosts: [...READING, ...BUILDING],
        models: ['small', 'medium'],
        cpus: 1,
        memoryMb: 1024,
        gpuShare: 0.1,
        gpuPriority: 1,
      },
    },
    {
      level: 2,
      name: 'artisan',
      minBalance: 50_000,
      entitlements: {
        requestsPerMinute: 1200,
        llmTokensPerHour: 1_000_000,
        concurrentLlmCalls: 4,
        concurrentToolRuns: 4,
        tools: ['file', 'http', 'shell', 'browser'],
        egressHosts: [...READING, ...BUILDING, ...RESEARCH],
        models: ['small', 'medium', 'large'],
        cpus: 2,
        memoryMb: 4096,
        gpuShare: 0.25,
        gpuPriority: 2,
      },
    },
    {
      level: 3,
      name: 'luminary',
      minBalance: 200_000,
      entitlements: {
        requestsPerMinute: 2400,
        llmTokensPerHour: 5_000_000,
        concurrentLlmCalls: 8,
        concurrentToolRuns: 8,
        tools: ['file', 'http', 'shell', 'browser'],
        egressHosts: ['*'],
        models: ['small', 'medium', 'large'],
        cpus: 4,
        memoryMb: 8192,
        gpuShare: 0.5,
        gpuPriority: 3,
      },
    },
  ],
};
