// Writes the editor side of every village node (dist/src/<file>.html, beside the runtime .js Node-RED
// loads) from the one catalog in src/catalog.ts: palette entry, edit form and help text.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ACTION_NODES,
  CATEGORY,
  COLORS,
  CONNECTION_NODE,
  EVENT_NODES,
  QUERY_NODES,
  TIER_POLICY_NODE,
} from '../dist/src/catalog.js';

const out = (file) => fileURLToPath(new URL(`../dist/src/${file}`, import.meta.url));
const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
/** JSON inside a <script>: never closes it. */
const json = (value) => JSON.stringify(value).replace(/</g, '\\u003c');

function defaultsOf(spec) {
  const defaults = {
    name: { value: '' },
    connection: { value: '', type: 'village-connection', required: true },
  };
  for (const field of spec.fields) {
    if (field.kind === 'typed') {
      defaults[field.name] = { value: field.value };
      defaults[`${field.name}Type`] = { value: field.valueType };
    } else defaults[field.name] = { value: field.value };
  }
  return defaults;
}

function formRow(field) {
  const id = `node-input-${field.name}`;
  const label = `<label for="${id}">${escape(field.label)}</label>`;
  switch (field.kind) {
    case 'typed':
      return `<div class="form-row">${label}<input type="text" id="${id}" style="width:70%"><input type="hidden" id="${id}Type"></div>`;
    case 'text':
      return `<div class="form-row">${label}<input type="text" id="${id}" placeholder="${escape(field.placeholder ?? '')}" style="width:70%"></div>`;
    case 'select':
      return `<div class="form-row">${label}<select id="${id}" style="width:70%">${field.options
        .map(([value, text]) => `<option value="${escape(value)}">${escape(text)}</option>`)
        .join('')}</select></div>`;
    case 'checkbox':
      return `<div class="form-row"><label>&nbsp;</label><input type="checkbox" id="${id}" style="width:auto;margin:0 6px 0 0"><label for="${id}" style="width:auto">${escape(field.label)}</label></div>`;
  }
}

function helpOf(spec) {
  const fields = spec.fields
    .map(
      (field) =>
        `<dt>${escape(field.label)}${field.kind === 'typed' && !field.required ? ' <span class="property-type">optional</span>' : ''}</dt><dd>${escape(field.help)}</dd>`,
    )
    .join('');
  return [
    `<p>${escape(spec.summary)}</p>`,
    '<h3>Properties</h3>',
    `<dl class="message-properties"><dt>Connection</dt><dd>The village connection (control plane URL and token).</dd>${fields}</dl>`,
    spec.input ? `<h3>Input</h3><p>${spec.input}</p>` : '',
    `<h3>Output</h3><p>${spec.output}</p>`,
    spec.group === 'action' || spec.group === 'query' || spec.group === 'policy'
      ? '<h3>Errors</h3><p>A refusal by the control plane (an unknown agent, an allowance spent, missing rights) or a missing field shows a red status and is reported with the message, so a Catch node can handle it. Nothing is changed in the village.</p>'
      : '<h3>Status</h3><p>Green while the event stream is connected; yellow while connecting; red when the connection is unusable.</p>',
    spec.details ? `<h3>Details</h3><p>${spec.details}</p>` : '',
  ].join('\n');
}

function nodeHtml(spec, extra = {}) {
  const typedFields = spec.fields.filter((field) => field.kind === 'typed').map((field) => [field.name, field.types]);
  const definition = `{
    category: ${json(CATEGORY)},
    color: ${json(COLORS[spec.group])},
    icon: ${json(spec.icon)},
    inputs: ${spec.inputs},
    outputs: ${spec.outputs},
    paletteLabel: ${json(spec.paletteLabel)},
    defaults: Object.assign(${json(defaultsOf(spec))}, ${extra.defaults ?? '{}'}),
    label: function () { return this.name || ${json(spec.paletteLabel)}; },
    labelStyle: function () { return this.name ? 'node_label_italic' : ''; },
    oneditprepare: function () {
      var node = this;
      ${json(typedFields)}.forEach(function (field) {
        $('#node-input-' + field[0]).typedInput({ default: node[field[0] + 'Type'], types: field[1], typeField: '#node-input-' + field[0] + 'Type' });
      });
      ${extra.prepare ?? ''}
    },
    oneditsave: function () { ${extra.save ?? ''} }
  }`;
  return `<script type="text/javascript">
  RED.nodes.registerType(${json(spec.type)}, ${definition});
</script>
<script type="text/html" data-template-name="${spec.type}">
  <div class="form-row"><label for="node-input-connection"><i class="fa fa-plug"></i> Connection</label><input type="text" id="node-input-connection" style="width:70%"></div>
  ${spec.fields.map(formRow).join('\n  ')}
  ${extra.template ?? ''}
  <div class="form-row"><label for="node-input-name"><i class="fa fa-tag"></i> Name</label><input type="text" id="node-input-name" style="width:70%"></div>
</script>
<script type="text/html" data-help-name="${spec.type}">
${helpOf(spec)}
</script>
`;
}

const connectionHtml = `<script type="text/javascript">
  RED.nodes.registerType('village-connection', {
    category: 'config',
    defaults: { name: { value: '' }, url: { value: '' } },
    credentials: { token: { type: 'password' } },
    label: function () { return this.name || this.url || 'this village'; },
  });
</script>
<script type="text/html" data-template-name="village-connection">
  <div class="form-row"><label for="node-config-input-url"><i class="fa fa-globe"></i> URL</label><input type="text" id="node-config-input-url" placeholder="empty: this control plane"></div>
  <div class="form-row"><label for="node-config-input-token"><i class="fa fa-key"></i> Token</label><input type="password" id="node-config-input-token" placeholder="empty: this control plane's admin token"></div>
  <div class="form-row"><label for="node-config-input-name"><i class="fa fa-tag"></i> Name</label><input type="text" id="node-config-input-name"></div>
</script>
<script type="text/html" data-help-name="village-connection">
<p>${escape(CONNECTION_NODE.summary)}</p>
<h3>Properties</h3>
<dl class="message-properties">
  <dt>URL</dt><dd>The control plane, e.g. <code>http://village.example:8080</code>. Empty inside the control plane: itself.</dd>
  <dt>Token</dt><dd>A bearer token: the admin token or an admin person's access token (moderator rights are enough for the moderators' events and moderation). Kept encrypted with the flows' credentials, never exported.</dd>
</dl>
<p>Every node using one connection shares one API client and one event-stream socket (socket.io namespace <code>/world</code>).</p>
</script>
`;

// The tier table: thresholds in aiDollars, entitlements per tier; stored as the API's policy (mills).
const TIER_COLUMNS = [
  ['name', 'name', 'text'],
  ['minBalance', 'min aiDollars', 'aidollars'],
  ['requestsPerMinute', 'requests/min', 'int'],
  ['llmTokensPerHour', 'LLM tokens/h', 'int'],
  ['concurrentLlmCalls', 'LLM calls', 'int'],
  ['concurrentToolRuns', 'tool runs', 'int'],
  ['models', 'models', 'list'],
  ['tools', 'tools', 'list'],
  ['egressHosts', 'egress hosts', 'list'],
  ['cpus', 'CPUs', 'number'],
  ['memoryMb', 'memory MB', 'int'],
  ['gpuShare', 'GPU share', 'number'],
  ['gpuPriority', 'GPU priority', 'int'],
];
const tierPolicyExtra = {
  defaults: `{ policy: { value: ${json({
    hysteresis: 0,
    tiers: [
      {
        level: 0,
        name: 'commons',
        minBalance: 0,
        entitlements: {
          requestsPerMinute: 240,
          llmTokensPerHour: 20000,
          concurrentLlmCalls: 1,
          concurrentToolRuns: 1,
          tools: ['file', 'http'],
          egressHosts: [],
          models: ['small'],
          cpus: 0.5,
          memoryMb: 512,
          gpuShare: 0,
          gpuPriority: 0,
        },
      },
    ],
  })}, validate: function (policy) { return !!policy && Array.isArray(policy.tiers) && policy.tiers.length > 0; } } }`,
  template: `<div class="form-row"><label for="village-tier-hysteresis">Hysteresis</label><input type="number" step="0.001" min="0" id="village-tier-hysteresis" style="width:120px"> aiDollars</div>
  <div class="form-row" style="overflow-x:auto"><table id="village-tier-table" class="red-ui-editor-text-container" style="border-collapse:collapse;font-size:12px">
    <thead><tr><th>level</th>${TIER_COLUMNS.map(([, label]) => `<th style="padding:2px 4px">${label}</th>`).join('')}<th></th></tr></thead><tbody></tbody></table>
    <button type="button" id="village-tier-add" class="red-ui-button"><i class="fa fa-plus"></i> tier</button></div>`,
  prepare: `
      var columns = ${json(TIER_COLUMNS)};
      var policy = node.policy || { hysteresis: 0, tiers: [] };
      $('#village-tier-hysteresis').val(policy.hysteresis / 1000);
      var body = $('#village-tier-table tbody');
      function cell(value, kind) {
        var text = kind === 'list' ? (value || []).join(', ') : kind === 'aidollars' ? value / 1000 : value;
        return $('<td style="padding:1px"></td>').append($('<input type="text" style="width:' + (kind === 'list' ? 160 : 80) + 'px">').val(text));
      }
      function addRow(tier) {
        var row = $('<tr></tr>').appendTo(body);
        row.append($('<td class="village-tier-level" style="padding:0 4px"></td>'));
        columns.forEach(function (column) {
          var value = column[0] === 'name' || column[0] === 'minBalance' ? tier[column[0]] : (tier.entitlements || {})[column[0]];
          row.append(cell(value, column[2]));
        });
        $('<td><button type="button" class="red-ui-button red-ui-button-small"><i class="fa fa-times"></i></button></td>')
          .appendTo(row).find('button').on('click', function () { row.remove(); renumber(); });
        renumber();
      }
      function renumber() { body.find('.village-tier-level').each(function (i) { $(this).text(i); }); }
      policy.tiers.forEach(addRow);
      $('#village-tier-add').on('click', function () {
        var last = policy.tiers[policy.tiers.length - 1] || { name: 'tier', minBalance: 0, entitlements: {} };
        addRow(JSON.parse(JSON.stringify(last)));
      });`,
  save: `
      var columns = ${json(TIER_COLUMNS)};
      var tiers = [];
      $('#village-tier-table tbody tr').each(function (level) {
        var inputs = $(this).find('input');
        var tier = { level: level, entitlements: {} };
        columns.forEach(function (column, i) {
          var raw = String(inputs.eq(i).val()).trim();
          var value = column[2] === 'text' ? raw
            : column[2] === 'list' ? raw.split(',').map(function (s) { return s.trim(); }).filter(Boolean)
            : column[2] === 'aidollars' ? Math.round(Number(raw) * 1000)
            : Number(raw);
          if (column[0] === 'name' || column[0] === 'minBalance') tier[column[0]] = value; else tier.entitlements[column[0]] = value;
        });
        tiers.push(tier);
      });
      this.policy = { hysteresis: Math.round(Number($('#village-tier-hysteresis').val()) * 1000), tiers: tiers };`,
};

writeFileSync(out('connection.html'), connectionHtml);
writeFileSync(out('events.html'), EVENT_NODES.map((spec) => nodeHtml(spec)).join('\n'));
writeFileSync(out('actions.html'), ACTION_NODES.map((spec) => nodeHtml(spec)).join('\n'));
writeFileSync(out('queries.html'), QUERY_NODES.map((spec) => nodeHtml(spec)).join('\n'));
writeFileSync(out('tier-policy.html'), nodeHtml(TIER_POLICY_NODE, tierPolicyExtra));
