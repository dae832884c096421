import net from 'node:net';

/**
 * Inside an agent container (no network but loopback): a TCP port on 127.0.0.1 whose every connection
 * is piped to the node's egress proxy through the mounted Unix socket. The runtime's control-plane calls
 * and every tool (curl, git, pip, Chromium: anything that honours HTTP(S)_PROXY) use this port.
 */
export async function startLoopbackForwarder(socketPath: string, port: number): Promise<net.Server> {
  const server = net.createServer((inbound) => {
    const outbound = net.connect(socketPath);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    outbound.on('error', () => inbound.destroy());
    inbound.on('error', () => outbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.unref();
  return server;
}

/** The port tools and the runtime use inside a container (HTTP(S)_PROXY and VILLAGE_URL point at it). */
export const EGRESS_LOOPBACK_PORT = 3128;

/**
 * In a container with the egress socket mounted (`VILLAGE_EGRESS_SOCKET`), starts the forwarder before
 * anything else talks to the network; elsewhere (a local process, a test) does nothing.
 */
export async function startEgressFromEnvironment(env: NodeJS.ProcessEnv): Promise<net.Server | undefined> {
  const socketPath = env.VILLAGE_EGRESS_SOCKET;
  if (!socketPath) return undefined;
  return startLoopbackForwarder(socketPath, Number(env.VILLAGE_EGRESS_PORT || EGRESS_LOOPBACK_PORT));
}
