import { TierPolicyRequestSchema, type TierPolicy } from '@ai-village/control-plane/contract';
import { TIER_POLICY_NODE } from './catalog.js';
import type { VillageConnection } from './connection.js';
import { describe } from './fields.js';
import type { Node, NodeAPI, NodeConfig } from './red.js';

/**
 * The tier-policy node: the compute tiers as a table in the editor, published to the economy (which
 * stores and versions them) when the flows start and on every message, only when they differ from
 * the policy in force, so a restart does not make a new version.
 */
export default function register(RED: NodeAPI) {
  RED.nodes.registerType(TIER_POLICY_NODE.type, function (this: Node, config: NodeConfig) {
    RED.nodes.createNode(this, config);
    // Node-RED calls node constructors with the new node as `this`; the closures below need it.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const connection = RED.nodes.getNode(String(config.connection ?? '')) as VillageConnection | null;
    const parsed = TierPolicyRequestSchema.safeParse(config.policy);
    const problem = !connection
      ? 'no village connection: choose one in the node\u2019s settings'
      : connection.problem
        ? `the village connection is not usable: ${connection.problem}`
        : !parsed.success
          ? `the tier policy is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'policy'}: ${i.message}`).join('; ')}`
          : undefined;
    if (problem) {
      node.status({ fill: 'red', shape: 'ring', text: problem.slice(0, 60) });
      node.error(problem);
    }

    const publish = async (): Promise<{ policy: TierPolicy; published: boolean }> => {
      if (problem || !connection || !parsed.success) throw new Error(problem);
      const wanted = parsed.data;
      const current = await connection.client.tierPolicy();
      if (samePolicy(current, wanted)) return { policy: current, published: false };
      return { policy: await connection.client.setTierPolicy(wanted), published: true };
    };
    const report = (outcome: { policy: TierPolicy; published: boolean }) =>
      node.status({
        fill: 'green',
        shape: 'dot',
        text: `${outcome.published ? 'published' : 'in force'}: version ${outcome.policy.version}, ${outcome.policy.tiers.length} tiers`,
      });
    const fail = (error: unknown) => {
      const text = describe(error);
      node.status({ fill: 'red', shape: 'dot', text: text.slice(0, 60) });
      return new Error(text);
    };

    if (config.publishOnDeploy !== false && !problem) {
      publish().then(report, (error: unknown) => node.error(fail(error).message));
    }
    node.on('input', (msg, send, done) => {
      publish().then(
        (outcome) => {
          report(outcome);
          send({ ...msg, payload: outcome.policy, published: outcome.published });
          done();
        },
        (error: unknown) => done(fail(error)),
      );
    });
  });
}

function samePolicy(current: TierPolicy, wanted: { tiers: unknown; hysteresis: number }) {
  return current.hysteresis === wanted.hysteresis && JSON.stringify(current.tiers) === JSON.stringify(wanted.tiers);
}
