// The part of Node-RED's embedding API the control plane uses (node-red ships no types).
declare module 'node-red' {
  import type { Server } from 'node:http';
  import type { RequestHandler } from 'express';

  interface NodeRedUser {
    username: string;
    permissions: string | string[];
    [key: string]: unknown;
  }

  interface NodeRed {
    init(server: Server, settings: Record<string, unknown>): void;
    start(): Promise<void>;
    stop(): Promise<void>;
    readonly httpAdmin: RequestHandler;
    readonly httpNode: RequestHandler;
    readonly nodes: { getNode(id: string): unknown };
    /** The runtime's events: `flows:started` once the flows run (after `start()` has resolved). */
    readonly events: { once(event: string, listener: (...args: unknown[]) => void): void };
    readonly runtime: {
      flows: {
        setFlows(options: {
          flows: { flows: Record<string, unknown>[]; credentials?: Record<string, unknown> };
          deploymentType?: 'full' | 'nodes' | 'flows' | 'reload';
          user?: NodeRedUser;
        }): Promise<{ rev: string }>;
      };
    };
  }

  const RED: NodeRed;
  export default RED;
  export type { NodeRedUser };
}
