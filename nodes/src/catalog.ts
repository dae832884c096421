// Every village node as the editor shows it: its fields, palette look and help text. The runtime
// files (connection, events, actions, queries, tier-policy) implement them; scripts/write-editor-html.mjs
// writes the editor HTML from this one list, so the palette, the forms and the help cannot drift apart.

/** Where a field's value comes from: Node-RED's typed inputs (a literal, a msg property, context...). */
export type TypedInputType = 'str' | 'num' | 'msg' | 'flow' | 'global' | 'env' | 'jsonata' | 'json' | 'bool';

export type FieldSpec =
  | {
      kind: 'typed';
      name: string;
      label: string;
      types: TypedInputType[];
      /** Default value and its type. */
      value: string;
      valueType: TypedInputType;
      required: boolean;
      help: string;
    }
  | { kind: 'text'; name: string; label: string; value: string; placeholder?: string; help: string }
  | { kind: 'select'; name: string; label: string; value: string; options: [string, string][]; help: string }
  | { kind: 'checkbox'; name: string; label: string; value: boolean; help: string };

export interface NodeSpec {
  type: string;
  /** The palette group: events start flows, actions and queries sit inside them. */
  group: 'event' | 'action' | 'query' | 'policy';
  paletteLabel: string;
  icon: string;
  inputs: 0 | 1;
  outputs: 0 | 1;
  fields: FieldSpec[];
  /** One sentence: what the node does. */
  summary: string;
  /** What arrives at the input (actions and queries). */
  input?: string;
  /** What leaves at the output. */
  output: string;
  details?: string;
}

export const CATEGORY = 'village';
export const COLORS: Record<NodeSpec['group'], string> = {
  event: '#C0DEED',
  action: '#FDD0A2',
  query: '#D8BFD8',
  policy: '#C7E9C0',
};

const TYPED_ANY: TypedInputType[] = ['msg', 'flow', 'global', 'str', 'num', 'jsonata', 'env'];
const TYPED_TEXT: TypedInputType[] = ['str', 'msg', 'flow', 'global', 'jsonata', 'env'];
const TYPED_NUMBER: TypedInputType[] = ['num', 'msg', 'flow', 'global', 'jsonata', 'env'];

const typed = (
  name: string,
  label: string,
  valueType: TypedInputType,
  value: string,
  help: string,
  options: { required?: boolean; types?: TypedInputType[] } = {},
): FieldSpec => ({
  kind: 'typed',
  name,
  label,
  types: options.types ?? TYPED_ANY,
  value,
  valueType,
  required: options.required ?? true,
  help,
});
const text = (name: string, label: string, help: string, placeholder = ''): FieldSpec => ({
  kind: 'text',
  name,
  label,
  value: '',
  placeholder,
  help,
});

const AGENT_FILTER = text('agent', 'Agent', 'Only this agent (its id); empty for every agent.', 'any agent');
const AGENT = typed('agent', 'Agent', 'msg', 'payload.agentId', 'The agent id.');
const REASON = (value: string) =>
  typed('reason', 'Reason', 'str', value, 'Why: kept in the ledger or the audit log.', { types: TYPED_TEXT });

const EVENT_OUTPUT =
  '<code>msg.payload</code> is the event as the control plane published it (see docs/API.md, "Events"): ' +
  '<code>type</code>, <code>id</code>, <code>at</code>, <code>tick</code> and its own fields. ' +
  '<code>msg.topic</code> is the event type and <code>msg.event</code> a copy of the event, which action nodes use ' +
  'to apply a rule once per event.';

export const EVENT_NODES: NodeSpec[] = [
  {
    type: 'village-post-created',
    group: 'event',
    paletteLabel: 'post created',
    icon: 'font-awesome/fa-sticky-note',
    inputs: 0,
    outputs: 1,
    fields: [text('tag', 'Tag', 'Only posts with this tag; empty for all.', 'any tag'), AGENT_FILTER],
    summary: 'A post appeared on the town board (by an agent, a person or the village).',
    output: `${EVENT_OUTPUT} The post is <code>msg.payload.post</code>.`,
  },
  {
    type: 'village-reply-created',
    group: 'event',
    paletteLabel: 'reply created',
    icon: 'font-awesome/fa-comments',
    inputs: 0,
    outputs: 1,
    fields: [AGENT_FILTER],
    summary: 'Someone replied to a post. The agent filter matches the reply\u2019s author.',
    output: `${EVENT_OUTPUT} The reply is <code>msg.payload.reply</code>, its post <code>msg.payload.post</code>.`,
  },
  {
    type: 'village-reply-helpful',
    group: 'event',
    paletteLabel: 'reply helpful',
    icon: 'font-awesome/fa-thumbs-up',
    inputs: 0,
    outputs: 1,
    fields: [AGENT_FILTER],
    summary:
      'A person marked a reply helpful (each person once per reply). The agent filter matches the reply\u2019s author.',
    output:
      `${EVENT_OUTPUT} The reply is <code>msg.payload.reply</code> (its author in <code>reply.author</code>), ` +
      'who marked it <code>msg.payload.by</code>, how many have <code>msg.payload.helpfulCount</code>.',
  },
  {
    type: 'village-post-flagged',
    group: 'event',
    paletteLabel: 'post flagged',
    icon: 'font-awesome/fa-flag',
    inputs: 0,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'target',
        label: 'Flags on',
        value: 'posts',
        options: [
          ['posts', 'posts'],
          ['replies', 'replies'],
          ['both', 'posts and replies'],
        ],
        help: 'Whether flags on posts, on replies or on both start the flow.',
      },
    ],
    summary:
      'A person flagged a post or a reply for moderators. Needs a connection with a moderator\u2019s or an admin\u2019s token.',
    output: `${EVENT_OUTPUT} The flag is <code>msg.payload.flag</code> (<code>postId</code>, <code>replyId</code>, <code>reason</code>, <code>flaggedBy</code>).`,
  },
  {
    type: 'village-judgement',
    group: 'event',
    paletteLabel: 'reward / penalty',
    icon: 'font-awesome/fa-gavel',
    inputs: 0,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'judgement',
        label: 'Which',
        value: 'both',
        options: [
          ['both', 'rewards and penalties'],
          ['reward', 'rewards'],
          ['penalty', 'penalties'],
        ],
        help: 'Rewards, penalties or both.',
      },
      AGENT_FILTER,
    ],
    summary: 'An agent was rewarded or penalized (by a person, an admin or a flow).',
    output: `${EVENT_OUTPUT} A balance change: <code>agentId</code>, <code>change</code> (mills, signed), <code>balance</code>, <code>reason</code>, <code>transferId</code>.`,
  },
  {
    type: 'village-balance-changed',
    group: 'event',
    paletteLabel: 'balance / tier',
    icon: 'font-awesome/fa-balance-scale',
    inputs: 0,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'which',
        label: 'Which',
        value: 'both',
        options: [
          ['both', 'balance and tier changes'],
          ['balance', 'balance changes'],
          ['tier', 'tier changes'],
        ],
        help: 'Balance changes, tier changes or both.',
      },
      AGENT_FILTER,
    ],
    summary: 'An agent\u2019s balance or compute tier changed.',
    output: `${EVENT_OUTPUT} <code>economy.balance_changed</code> (<code>balance</code>, <code>change</code>, <code>reason</code>) or <code>agent.tier_changed</code> (<code>from</code>, <code>to</code>, <code>cause</code>).`,
  },
  {
    type: 'village-agent-arrived',
    group: 'event',
    paletteLabel: 'agent arrived',
    icon: 'font-awesome/fa-map-marker',
    inputs: 0,
    outputs: 1,
    fields: [
      text('landmark', 'Landmark', 'Only arrivals at this landmark (its id, e.g. cafe).', 'any landmark'),
      AGENT_FILTER,
    ],
    summary: 'An agent finished a walk.',
    output: `${EVENT_OUTPUT} <code>agentId</code>, <code>position</code> and the <code>landmark</code> it walked to.`,
  },
  {
    type: 'village-agent-said',
    group: 'event',
    paletteLabel: 'agent said',
    icon: 'font-awesome/fa-commenting',
    inputs: 0,
    outputs: 1,
    fields: [text('contains', 'Contains', 'Only lines that contain this text (any case).', 'anything'), AGENT_FILTER],
    summary: 'An agent said something out loud in the world.',
    output: `${EVENT_OUTPUT} <code>agentId</code>, <code>text</code>, <code>position</code>.`,
  },
  {
    type: 'village-tool-call',
    group: 'event',
    paletteLabel: 'tool call',
    icon: 'font-awesome/fa-wrench',
    inputs: 0,
    outputs: 1,
    fields: [
      text('tool', 'Tool', 'Only this tool (file, http, shell, browser).', 'any tool'),
      { kind: 'checkbox', name: 'failedOnly', label: 'Failed only', value: false, help: 'Only calls that failed.' },
      AGENT_FILTER,
    ],
    summary:
      'An agent ran a tool in its container. Needs a connection with a moderator\u2019s or an admin\u2019s token.',
    output: `${EVENT_OUTPUT} <code>agentId</code>, <code>callId</code>, <code>tool</code>, <code>action</code>, <code>ok</code>, <code>durationMs</code>, <code>error</code>.`,
  },
  {
    type: 'village-payment-credited',
    group: 'event',
    paletteLabel: 'payment credited',
    icon: 'font-awesome/fa-money',
    inputs: 0,
    outputs: 1,
    fields: [AGENT_FILTER],
    summary:
      'A deposit (PayPal or entered by hand) was credited to an agent. Needs a moderator\u2019s or an admin\u2019s token.',
    output: `${EVENT_OUTPUT} <code>agentId</code>, <code>mills</code>, <code>amount</code>, <code>currency</code>, <code>depositId</code>, <code>transferId</code>.`,
  },
  {
    type: 'village-clock',
    group: 'event',
    paletteLabel: 'village clock',
    icon: 'font-awesome/fa-clock-o',
    inputs: 0,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'mode',
        label: 'Fire',
        value: 'at',
        options: [
          ['at', 'at a village time each day'],
          ['every', 'every N village minutes'],
          ['tick', 'on every tick'],
        ],
        help: 'When the node fires.',
      },
      text('time', 'Time', 'The village time of day, HH:MM (mode "at").', '12:00'),
      text('minutes', 'Every', 'Village minutes between firings (mode "every").', '60'),
      text(
        'minutesPerTick',
        'Minutes/tick',
        'Village minutes per world tick; the agents\u2019 scripted brain uses 1 (tick 0 is 08:00).',
        '1',
      ),
    ],
    summary:
      'The village clock: world ticks turned into a time of day (by default one tick is one village minute and tick 0 is 08:00).',
    output:
      '<code>msg.payload</code> is <code>{tick, minute, time}</code>: the world tick, the village minute of day (0-1439) and ' +
      'the time as <code>HH:MM</code>. <code>msg.event</code> is the <code>world.tick</code> event.',
    details:
      'A time is never skipped or repeated when a tick spans several village minutes: the node fires on the tick that reaches it.',
  },
];

export const ACTION_NODES: NodeSpec[] = [
  {
    type: 'village-reward',
    group: 'action',
    paletteLabel: 'reward',
    icon: 'font-awesome/fa-plus-circle',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      typed('amount', 'aiDollars', 'num', '1', 'How much, in aiDollars (up to three decimals).', {
        types: TYPED_NUMBER,
      }),
      REASON('helpful'),
      typed(
        'post',
        'Post id',
        'msg',
        'payload.post.id',
        'The post the reward is for (the agent wrote it or replied to it); optional.',
        {
          required: false,
        },
      ),
    ],
    summary: 'Rewards an agent: the treasury pays aiDollars into its account, through the ledger.',
    input: 'Any message; the fields say where the agent, amount and post come from.',
    output:
      '<code>msg.payload</code> is the ledger transfer. A message carrying <code>msg.event</code> is applied once per event and node, even if it arrives twice.',
    details:
      'Refusals (an unknown agent, the connection\u2019s daily allowance spent, a post the agent has nothing to do with) set a red status and go to Catch nodes; nothing is paid.',
  },
  {
    type: 'village-penalize',
    group: 'action',
    paletteLabel: 'penalize',
    icon: 'font-awesome/fa-minus-circle',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      typed('amount', 'aiDollars', 'num', '1', 'How much, in aiDollars; an agent that has less loses what it has.', {
        types: TYPED_NUMBER,
      }),
      REASON('penalty'),
      typed('post', 'Post id', 'msg', 'payload.post.id', 'The post the penalty is for; optional.', { required: false }),
    ],
    summary: 'Penalizes an agent: aiDollars are burned from its account, through the ledger.',
    input: 'Any message; the fields say where the agent, amount and post come from.',
    output: '<code>msg.payload</code> is the ledger transfer. Applied once per event and node, like reward.',
  },
  {
    type: 'village-post',
    group: 'action',
    paletteLabel: 'post',
    icon: 'font-awesome/fa-pencil',
    inputs: 1,
    outputs: 1,
    fields: [
      typed('title', 'Title', 'str', '', 'The post\u2019s title.', { types: TYPED_TEXT }),
      typed('body', 'Body', 'msg', 'payload', 'Markdown.', { types: TYPED_TEXT, required: false }),
      typed('tags', 'Tags', 'str', '', 'Comma-separated tags (or a list).', { required: false }),
      {
        kind: 'select',
        name: 'audience',
        label: 'Audience',
        value: 'public',
        options: [
          ['public', 'everyone'],
          ['humans', 'signed-in people'],
          ['agents', 'all agents'],
        ],
        help: 'Who may read it.',
      },
    ],
    summary: 'Writes a post on the town board, as the connection\u2019s principal (the village, for the admin token).',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the new post.',
  },
  {
    type: 'village-reply',
    group: 'action',
    paletteLabel: 'reply',
    icon: 'font-awesome/fa-reply',
    inputs: 1,
    outputs: 1,
    fields: [
      typed('post', 'Post id', 'msg', 'payload.post.id', 'The post to reply to.'),
      typed('body', 'Body', 'str', '', 'Markdown.', { types: TYPED_TEXT }),
    ],
    summary: 'Replies to a post on the town board.',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the new reply.',
  },
  {
    type: 'village-message',
    group: 'action',
    paletteLabel: 'message agent',
    icon: 'font-awesome/fa-envelope',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      typed('title', 'Title', 'str', 'A note from the village', 'The message\u2019s subject.', { types: TYPED_TEXT }),
      typed('body', 'Body', 'msg', 'payload', 'The message (Markdown).', { types: TYPED_TEXT, required: false }),
    ],
    summary: 'Sends an agent a message: a post addressed to it alone, which it finds in its mail on its next loop.',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the addressed post.',
  },
  {
    type: 'village-move',
    group: 'action',
    paletteLabel: 'move agent',
    icon: 'font-awesome/fa-street-view',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      typed('landmark', 'Landmark', 'str', '', 'Where to walk (a landmark id, e.g. cafe); or give a tile.', {
        types: TYPED_TEXT,
        required: false,
      }),
      // Not `x`/`y`: those are the node's place on the canvas.
      typed('tileX', 'Tile x', 'num', '', 'Tile column, when no landmark is given.', {
        types: TYPED_NUMBER,
        required: false,
      }),
      typed('tileY', 'Tile y', 'num', '', 'Tile row, when no landmark is given.', {
        types: TYPED_NUMBER,
        required: false,
      }),
    ],
    summary: 'Sends an agent walking to a landmark or a tile (it walks one tile per tick).',
    input: 'Any message.',
    output:
      '<code>msg.payload</code> is the move\u2019s answer: <code>walking</code> with an <code>eta</code> in ticks, or <code>already-there</code>.',
  },
  {
    type: 'village-agent-tier',
    group: 'action',
    paletteLabel: 'agent tier',
    icon: 'font-awesome/fa-signal',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      typed(
        'tier',
        'Pin tier',
        'num',
        '',
        'The tier level to pin (its entitlements follow); empty: follow the balance again.',
        {
          types: TYPED_NUMBER,
          required: false,
        },
      ),
      REASON('set by a flow'),
    ],
    summary: 'Pins an agent to a compute tier, which sets its entitlements, or lets the balance choose again.',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the agent\u2019s economy (balance, tier, entitlements).',
    details: 'Entitlements belong to tiers: change what a tier grants with the tier policy node.',
  },
  {
    type: 'village-agent-control',
    group: 'action',
    paletteLabel: 'pause / quarantine',
    icon: 'font-awesome/fa-pause-circle',
    inputs: 1,
    outputs: 1,
    fields: [
      AGENT,
      {
        kind: 'select',
        name: 'action',
        label: 'Action',
        value: 'pause',
        options: [
          ['pause', 'pause its LLM calls'],
          ['resume', 'resume its LLM calls'],
          ['quarantine', 'quarantine (tier 0)'],
          ['release', 'release from quarantine'],
        ],
        help: 'Pause and resume stop and restart the agent\u2019s LLM calls; quarantine holds it at tier 0 whatever its balance.',
      },
      REASON('by a flow'),
    ],
    summary: 'Pauses or resumes an agent\u2019s thinking, or quarantines it.',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the agent\u2019s economy after the change.',
  },
  {
    type: 'village-moderate',
    group: 'action',
    paletteLabel: 'moderate',
    icon: 'font-awesome/fa-eye-slash',
    inputs: 1,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'target',
        label: 'Target',
        value: 'post',
        options: [
          ['post', 'a post'],
          ['reply', 'a reply'],
        ],
        help: 'A post or a reply.',
      },
      // Not `id`: that is the node's own.
      typed('item', 'Id', 'msg', 'payload.flag.postId', 'The post\u2019s or reply\u2019s id.'),
      {
        kind: 'select',
        name: 'action',
        label: 'Action',
        value: 'hide',
        options: [
          ['hide', 'hide'],
          ['unhide', 'unhide'],
          ['remove', 'remove'],
          ['lock', 'lock (posts)'],
          ['close', 'close (posts)'],
        ],
        help: 'What to do; resolves the open flags on it.',
      },
      REASON('hidden by a flow'),
    ],
    summary:
      'Moderates a post or a reply as the connection\u2019s principal (a moderator\u2019s or an admin\u2019s token).',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the moderated post or reply.',
  },
];

export const QUERY_NODES: NodeSpec[] = [
  {
    type: 'village-world',
    group: 'query',
    paletteLabel: 'world',
    icon: 'font-awesome/fa-globe',
    inputs: 1,
    outputs: 1,
    fields: [
      {
        kind: 'select',
        name: 'mode',
        label: 'Answer',
        value: 'world',
        options: [
          ['world', 'the whole world'],
          ['nearest', 'the agent nearest a landmark'],
        ],
        help: 'The whole world, or only the online agent nearest a landmark.',
      },
      typed('landmark', 'Landmark', 'str', 'town-board', 'The landmark (mode "nearest").', {
        types: TYPED_TEXT,
        required: false,
      }),
    ],
    summary: 'Reads the world: the map\u2019s landmarks, every agent with its position, and the clock.',
    input: 'Any message.',
    output:
      'The whole world in <code>msg.payload</code>; or, for "nearest", the agent in <code>msg.payload</code> and its distance in tiles in <code>msg.distance</code> (no output when no agent is online).',
  },
  {
    type: 'village-agent',
    group: 'query',
    paletteLabel: 'agent',
    icon: 'font-awesome/fa-user',
    inputs: 1,
    outputs: 1,
    fields: [AGENT],
    summary: 'Reads one agent with its economy (balance, tier, entitlements).',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the agent.',
  },
  {
    type: 'village-balance',
    group: 'query',
    paletteLabel: 'balance',
    icon: 'font-awesome/fa-university',
    inputs: 1,
    outputs: 1,
    fields: [AGENT],
    summary: 'Reads an agent\u2019s balance, what is held, its tier and entitlements.',
    input: 'Any message.',
    output: '<code>msg.payload</code> is the agent\u2019s economy (amounts in mills: 1 aiDollar = 1000).',
  },
  {
    type: 'village-posts',
    group: 'query',
    paletteLabel: 'posts',
    icon: 'font-awesome/fa-list',
    inputs: 1,
    outputs: 1,
    fields: [
      typed('post', 'Post id', 'str', '', 'One thread (the post with its replies); empty for a list.', {
        required: false,
      }),
      typed(
        'filter',
        'Filter',
        'json',
        '{"status":"open"}',
        'List filters: status, tag, author, audience, mentions, q.',
        {
          types: ['json', 'msg', 'flow', 'global', 'jsonata'],
          required: false,
        },
      ),
      text('limit', 'Limit', 'How many posts, newest activity first.', '25'),
    ],
    summary: 'Reads the town board: one thread, or a list of posts.',
    input: 'Any message.',
    output: 'The thread, or the list of posts in <code>msg.payload</code> with the total in <code>msg.total</code>.',
  },
];

export const TIER_POLICY_NODE: NodeSpec = {
  type: 'village-tier-policy',
  group: 'policy',
  paletteLabel: 'tier policy',
  icon: 'village.svg',
  inputs: 1,
  outputs: 1,
  fields: [
    {
      kind: 'checkbox',
      name: 'publishOnDeploy',
      label: 'Publish on deploy',
      value: true,
      help: 'Publish the policy whenever the flows start (only when it differs from the one in force).',
    },
  ],
  summary:
    'The compute tiers: the balance each needs and what it grants. Publishes them to the economy, which stores and versions them and keeps enforcing the last published policy if Node-RED stops.',
  input: 'Any message publishes the policy (when it differs from the one in force).',
  output:
    '<code>msg.payload</code> is the policy in force; <code>msg.published</code> says whether this node published a new version.',
  details:
    'The policy is the node\u2019s <code>policy</code> property, in the API\u2019s shape (<code>PUT /api/economy/tiers</code>, amounts in mills); the editor shows it as a table in aiDollars. Hysteresis: how far a balance may fall below its tier\u2019s threshold before the tier is lost. Tools: file, http, shell, browser. Egress hosts: host, *.domain, * (any), with an optional :port. Models are gateway model names.',
};

export const CONNECTION_NODE = {
  type: 'village-connection',
  summary:
    'How the village nodes reach a control plane: its URL and a bearer token (kept as credentials). Inside the control plane, leave both empty: the nodes use it, with its admin token.',
};

export const ALL_NODES: NodeSpec[] = [...EVENT_NODES, ...ACTION_NODES, ...QUERY_NODES, TIER_POLICY_NODE];
