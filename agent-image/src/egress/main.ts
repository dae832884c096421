#!/usr/bin/env node
// The node's egress proxy daemon (`village-egress`): every agent container on this node reaches the
// outside only through it. Settings from the environment:
//   VILLAGE_URL          the control plane (reached from the node directly)
//   VILLAGE_NODE_TOKEN   the node's token (`POST /api/nodes` shows it once)
//   VILLAGE_EGRESS_DIR   where the per-agent sockets go (default /run/village/egress); a container
//                        mounts `<dir>/<agent id>` at /run/village
import { EgressNode } from './egress-node.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(JSON.stringify({ level: 'error', message: `${name} must be set` }));
    process.exit(1);
  }
  return value;
}

const log = (level: 'info' | 'error', message: string, fields: Record<string, unknown> = {}) =>
  (level === 'error' ? process.stderr : process.stdout).write(
    `${JSON.stringify({ at: new Date().toISOString(), level, component: 'egress', message, ...fields })}\n`,
  );

const node = new EgressNode({
  controlPlaneUrl: required('VILLAGE_URL'),
  nodeToken: required('VILLAGE_NODE_TOKEN'),
  socketDir: process.env.VILLAGE_EGRESS_DIR || '/run/village/egress',
  onProblem: (message, fields) => log('error', message, fields),
});
await node.start();
log('info', 'egress proxy running', { agents: node.proxy.agents.length });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void node.stop().finally(() => process.exit(0));
  });
}
