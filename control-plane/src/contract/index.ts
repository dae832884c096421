// The API contract shared by the control plane, the agent runtime, the map, the console and the
// Node-RED nodes: zod schemas (the single source of each shape), event types and the typed client.
// It may import only zod, so it runs in browsers and in agent containers alike.
export * from './world.js';
export * from './requests.js';
export * from './events.js';
export * from './accounts.js';
export * from './board.js';
export * from './economy.js';
export * from './compute.js';
export * from './payments.js';
export * from './tools.js';
export * from './memory.js';
export * from './egress.js';
export * from './gpu.js';
export * from './fleet.js';
export * from './flows.js';
export * from './text.js';
export * from './list.js';
export * from './client.js';
export * from './tiled.js';
export * from './geography.js';
export * from './village-clock.js';
