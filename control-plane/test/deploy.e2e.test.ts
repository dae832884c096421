// deploy/: the Compose files validate (`docker-compose config`, the Compose v1 that Debian ships; `docker
// compose` v2 reads the same files), the proxy and Prometheus name the replicas the control node's Compose
// file runs, the dashboard asks only for metrics the control plane has, and the control node's replicas
// start on this machine from the locally built image (host network, the host's PostgreSQL and Redis:
// compose.local.yaml) and serve one village together.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VillageClient } from '../src/contract/index.js';
import { registry } from '../src/metrics/instruments.js';
import '../src/metrics/metrics.service.js'; // registers the scrape-time gauges
import { eventually } from './support/eventually.js';
import { freePort } from './support/free-port.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  TEST_REDIS_URL,
  testRedisPrefix,
  type TestDatabase,
} from './support/test-database.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const COMPOSE = process.env.TEST_DOCKER_COMPOSE ?? 'docker-compose';

function compose(file: string, args: string[], env: Record<string, string>) {
  return spawnSync(COMPOSE, ['-f', `${DEPLOY}${file}`, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

function composeAvailable() {
  const probe = spawnSync(COMPOSE, ['version'], { encoding: 'utf8' });
  assert.equal(
    probe.status,
    0,
    `${COMPOSE} is missing: apt-get install docker-compose (${probe.error?.message ?? ''})`,
  );
}

describe('deploy/', { timeout: 20 * 60_000 }, () => {
  test('the Compose files validate, with every profile', () => {
    composeAvailable();
    const control = compose(
      'control-node/compose.yaml',
      ['--profile', 'observability', '--profile', 'backup', 'config'],
      {
        POSTGRES_PASSWORD: 'validation-only',
        VILLAGE_ENV_FILE: `${DEPLOY}env.example`,
      },
    );
    assert.equal(control.status, 0, control.stderr);
    for (const service of [
      'postgres',
      'redis',
      'control-plane-1',
      'control-plane-2',
      'proxy',
      'prometheus',
      'grafana',
      'backup',
    ])
      assert.match(control.stdout, new RegExp(`^ {2}${service}:$`, 'm'));
    const node = compose('agent-node/compose.yaml', ['config'], { VILLAGE_NODE_ENV_FILE: `${DEPLOY}env.example` });
    assert.equal(node.status, 0, node.stderr);
    assert.match(node.stdout, /gpu\/main\.js/);
    assert.match(node.stdout, /egress\/main\.js/);
    const local = compose('control-node/compose.local.yaml', ['config', '-q'], {
      DATABASE_URL: 'postgresql://village@127.0.0.1:5432/village',
      REDIS_URL: 'redis://127.0.0.1:6379',
      VILLAGE_ADMIN_TOKEN: ADMIN_TOKEN,
      VILLAGE_JWT_SECRET: 'validation-only-0123456789abcdefghijkl',
    });
    assert.equal(local.status, 0, local.stderr);
  });

  test('a missing secret is named, not defaulted', () => {
    composeAvailable();
    const result = compose('control-node/compose.yaml', ['config', '-q'], {
      POSTGRES_PASSWORD: '',
      VILLAGE_ENV_FILE: `${DEPLOY}env.example`,
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /POSTGRES_PASSWORD/);
  });

  test('the proxy and Prometheus reach exactly the replicas the control node runs', () => {
    const composeFile = readFileSync(`${DEPLOY}control-node/compose.yaml`, 'utf8');
    const replicas = [...composeFile.matchAll(/^ {2}(control-plane-\d+):$/gm)].map((match) => match[1]!);
    const nginx = readFileSync(`${DEPLOY}control-node/nginx.conf`, 'utf8');
    const upstreams = [...nginx.matchAll(/server (control-plane-\d+):8080/g)].map((match) => match[1]!);
    const prometheus = readFileSync(`${DEPLOY}observability/prometheus.yml`, 'utf8');
    const targets = [...prometheus.matchAll(/'(control-plane-\d+):8080'/g)].map((match) => match[1]!);
    assert.deepEqual(upstreams, replicas);
    assert.deepEqual(targets, replicas);
    assert.match(nginx, /location = \/metrics \{\s*return 404;/, 'the proxy hides /metrics');
  });

  test('the dashboard asks only for metrics the control plane exports', async () => {
    const dashboard = JSON.parse(readFileSync(`${DEPLOY}observability/grafana/dashboards/village.json`, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const known = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const asked = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) =>
        [...target.expr.matchAll(/\b((?:village|process|nodejs)_\w+)/g)].map((m) => m[1]!),
      ),
    );
    assert.ok(asked.length > 20);
    for (const name of asked) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      assert.ok(known.has(name) || known.has(base), `the dashboard asks for ${name}, which /metrics does not have`);
    }
  });

  describe('the control node on this machine, from the locally built image', () => {
    let database: TestDatabase;
    let redisPrefix: string;
    let env: Record<string, string>;
    let ports: number[];
    const project = `villagetest${process.pid}`;

    before(
      async () => {
        composeAvailable();
        const build = (await import(`${DEPLOY}control-plane-image/build.mjs`)) as {
          ensureControlPlaneImage(): Promise<{ reference: string }>;
        };
        const image = await build.ensureControlPlaneImage();
        database = await createTestDatabase();
        redisPrefix = testRedisPrefix();
        ports = [await freePort(), await freePort()];
        env = {
          VILLAGE_CONTROL_PLANE_IMAGE: image.reference,
          DATABASE_URL: database.url,
          REDIS_URL: TEST_REDIS_URL,
          VILLAGE_REDIS_PREFIX: redisPrefix,
          VILLAGE_ADMIN_TOKEN: ADMIN_TOKEN,
          VILLAGE_JWT_SECRET: 'deploy-test-jwt-secret-0123456789abcdef',
          VILLAGE_METRICS_TOKEN: 'deploy-test-metrics-token-0123456789',
          VILLAGE_PORT_1: String(ports[0]),
          VILLAGE_PORT_2: String(ports[1]),
          LOG_LEVEL: 'warn',
        };
        const up = compose('control-node/compose.local.yaml', ['-p', project, 'up', '-d'], env);
        assert.equal(up.status, 0, up.stderr);
      },
      { timeout: 15 * 60_000 },
    );

    after(async () => {
      if (env) {
        const logs = compose(
          'control-node/compose.local.yaml',
          ['-p', project, 'logs', '--no-color', '--tail', '30'],
          env,
        );
        if (process.env.TEST_DOCKER_VERBOSE === '1') console.log(logs.stdout);
        compose('control-node/compose.local.yaml', ['-p', project, 'down', '--timeout', '20'], env);
      }
      if (redisPrefix) await deleteRedisKeys(redisPrefix);
      await database?.drop();
    });

    test('both replicas come up healthy and serve one village', async () => {
      const urls = ports.map((port) => `http://127.0.0.1:${port}`);
      for (const url of urls) {
        await eventually(
          async () => (await fetch(`${url}/api/health`).catch(() => undefined))?.ok === true,
          `${url} to be healthy`,
          60_000,
        );
      }
      const health = await Promise.all(
        urls.map(async (url) => (await (await fetch(`${url}/api/health`)).json()) as { replica: string }),
      );
      assert.deepEqual(health.map((h) => h.replica).sort(), ['control-plane-1', 'control-plane-2']);

      // Created through one, moved through the other.
      const created = await new VillageClient({ baseUrl: urls[0]!, token: ADMIN_TOKEN }).createAgent({
        id: 'deployed',
        displayName: 'Deployed',
        spawn: { x: 5, y: 29 },
      });
      const moved = await new VillageClient({ baseUrl: urls[1]!, token: created.token }).move('deployed', { dx: 1 });
      assert.equal(moved.outcome, 'moved');

      const metrics = await fetch(`${urls[1]}/metrics`, {
        headers: { authorization: `Bearer ${env.VILLAGE_METRICS_TOKEN}` },
      });
      assert.equal(metrics.status, 200);
      assert.match(
        await metrics.text(),
        /village_http_request_duration_seconds_count\{method="POST",route="\/api\/agents\/:id\/move",status="200"\} 1/,
      );
      // The image runs as its own user, not root.
      const user = spawnSync('docker', ['exec', `${project}_control-plane-1_1`, 'id', '-u'], { encoding: 'utf8' });
      assert.equal(user.stdout.trim(), '10001', user.stderr);
    });

    test('a replica stopped by Compose shuts down cleanly (exit 0)', () => {
      const stop = compose('control-node/compose.local.yaml', ['-p', project, 'stop', 'control-plane-2'], env);
      assert.equal(stop.status, 0, stop.stderr);
      const state = spawnSync('docker', ['inspect', '-f', '{{.State.ExitCode}}', `${project}_control-plane-2_1`], {
        encoding: 'utf8',
      });
      assert.equal(state.stdout.trim(), '0');
    });
  });
});
