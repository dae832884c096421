import { VillageApiError } from '@ai-village/control-plane/contract';
import type { FieldSpec, NodeSpec } from './catalog.js';
import type { VillageConnection } from './connection.js';
import type { Node, NodeAPI, NodeConfig, NodeMessage } from './red.js';

export type FieldValues = Record<string, unknown>;

/** Evaluates a node's typed-input fields against a message; empty optional fields are left undefined. */
export async function evaluateFields(
  RED: NodeAPI,
  node: Node,
  spec: NodeSpec,
  config: NodeConfig,
  msg: NodeMessage,
): Promise<FieldValues> {
  const values: FieldValues = {};
  await Promise.all(
    spec.fields.map(async (field) => {
      values[field.name] = await evaluate(RED, node, field, config, msg);
    }),
  );
  return values;
}

async function evaluate(RED: NodeAPI, node: Node, field: FieldSpec, config: NodeConfig, msg: NodeMessage) {
  const raw = config[field.name];
  if (field.kind !== 'typed') return raw ?? field.value;
  const type = String(config[`${field.name}Type`] ?? field.valueType);
  if (raw === undefined || raw === '') {
    if (field.required) throw new Error(`${field.label} is missing: set it in the node`);
    return undefined;
  }
  const value = await new Promise<unknown>((resolve, reject) =>
    RED.util.evaluateNodeProperty(raw, type, node, msg, (error, result) => (error ? reject(error) : resolve(result))),
  );
  if ((value === undefined || value === null || value === '') && field.required) {
    throw new Error(
      `${field.label} is missing: ${type === 'msg' ? `msg.${String(raw)} is empty` : 'it evaluated to nothing'}`,
    );
  }
  return value === '' || value === null ? undefined : value;
}

export function requireString(values: FieldValues, name: string, label = name): string {
  const value = values[name];
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || !value.trim()) throw new Error(`${label} must be text`);
  return value.trim();
}

export function optionalNumber(values: FieldValues, name: string, label = name): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new Error(`${label} must be a number`);
  return number;
}

/**
 * Runs a node's work for each message: evaluates the fields, calls the API through the connection,
 * sends the answer on, and reports failures to done(err) (so Catch nodes see them) with a red status.
 */
export function registerApiNode(
  RED: NodeAPI,
  spec: NodeSpec,
  work: (
    connection: VillageConnection,
    values: FieldValues,
    msg: NodeMessage,
    node: Node,
  ) => Promise<NodeMessage | null>,
) {
  RED.nodes.registerType(spec.type, function (this: Node, config: NodeConfig) {
    RED.nodes.createNode(this, config);
    // Node-RED calls node constructors with the new node as `this`; the closures below need it.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const connection = RED.nodes.getNode(String(config.connection ?? '')) as VillageConnection | null;
    if (!connection) node.status({ fill: 'red', shape: 'ring', text: 'no connection' });
    let failing = false;
    node.on('input', (msg, send, done) => {
      void (async () => {
        if (!connection) throw new Error('no village connection: choose one in the node\u2019s settings');
        if (connection.problem) throw new Error(`the village connection is not usable: ${connection.problem}`);
        const values = await evaluateFields(RED, node, spec, config, msg);
        const out = await work(connection, values, msg, node);
        if (failing) {
          failing = false;
          node.status({});
        }
        if (out) send(out);
      })().then(
        () => done(),
        (error: unknown) => {
          failing = true;
          const text = describe(error);
          node.status({ fill: 'red', shape: 'dot', text: text.length > 60 ? `${text.slice(0, 57)}...` : text });
          done(error instanceof Error ? Object.assign(new Error(text), { cause: error }) : new Error(text));
        },
      );
    });
  });
}

/** The API's own message for a refusal (`403: your daily reward allowance ...`), else the error's. */
export function describe(error: unknown): string {
  if (error instanceof VillageApiError) return `${error.status}: ${error.body?.message ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The same rule applied twice for one event (two deliveries, two replicas) moves money once. */
export function idempotencyKey(node: Node, msg: NodeMessage): string {
  const event = msg.event as { id?: unknown } | undefined;
  return `flow:${node.id}:${typeof event?.id === 'string' ? event.id : String(msg._msgid)}`;
}
