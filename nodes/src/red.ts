// The part of Node-RED's node API the village nodes use (node-red ships no types).

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeConfig {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

export interface Node {
  id: string;
  type: string;
  name?: string;
  credentials?: Record<string, string | undefined>;
  on(
    event: 'input',
    handler: (msg: NodeMessage, send: (msg: NodeMessage) => void, done: (error?: Error) => void) => void,
  ): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | null): void;
  status(status: NodeStatus): void;
  error(error: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
}

export interface NodeAPI {
  nodes: {
    createNode(node: Node, config: NodeConfig): void;
    registerType(
      type: string,
      constructor: (this: Node, config: NodeConfig) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
    getNode(id: string): unknown;
  };
  util: {
    evaluateNodeProperty(
      value: unknown,
      type: string,
      node: Node,
      msg: NodeMessage,
      callback: (error: Error | null, result: unknown) => void,
    ): void;
  };
  settings: Record<string, unknown>;
}
