#!/usr/bin/env node
// The agent process: reads its configuration from the environment and lives until SIGTERM/SIGINT.
// Exit codes (a launcher acts on them):
//   0    after a signal (the step in progress is finished first)
//   1    a bad configuration, or a crash (a bug; the stack is on stderr)
//   3    the control plane refused the token (401/403, AgentAuthError): it is wrong, stale or was
//        rotated, so restarting with the same token cannot help; a launcher that can mint a new one should
//   130  the same signal twice (an impatient human): at once, the step in progress abandoned
import { AgentAuthError, runAgent } from './agent-loop.js';
import { AgentConfigError, parseAgentConfig } from './config.js';
import { startEgressFromEnvironment } from './egress/loopback-forwarder.js';
import type { AgentConfig } from './config.js';
import { StructuredLog } from './structured-log.js';

/** The exit code for a refused token, distinct from 1 so that a launcher can tell "my token is stale". */
const EXIT_TOKEN_REFUSED = 3;

async function main(): Promise<number> {
  let config: AgentConfig;
  try {
    config = parseAgentConfig(process.env);
  } catch (error) {
    if (!(error instanceof AgentConfigError)) throw error;
    new StructuredLog({ agent: process.env.VILLAGE_AGENT_ID || 'unknown' }).error('start', error.message);
    return 1;
  }

  const log = new StructuredLog({ agent: config.agentId });
  try {
    // In a container, the node's egress proxy is the only way out (and to the control plane).
    await startEgressFromEnvironment(process.env);
  } catch (error) {
    log.error('start', `cannot open the egress port: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const controller = new AbortController();
  const received = new Set<NodeJS.Signals>();
  const stop = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches both the launcher and its agents, and the launcher then sends SIGTERM: only
    // the same signal twice (an impatient human) means "now".
    if (received.has(signal)) process.exit(130);
    received.add(signal);
    if (controller.signal.aborted) return;
    log.info('stop', { signal, message: 'finishing the current step' });
    controller.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    await runAgent(config, { signal: controller.signal, log });
    return 0;
  } catch (error) {
    // A refused token was logged where it happened; anything else is a bug, said here.
    if (error instanceof AgentAuthError) return EXIT_TOKEN_REFUSED;
    log.error('stop', error instanceof Error ? (error.stack ?? error.message) : String(error));
    return 1;
  }
}

const code = await main();
process.exitCode = code;
// Idle keep-alive sockets must not hold a stopping agent.
setTimeout(() => process.exit(code), 1000).unref();
