// Installs the system packages the village needs when they are missing, from Debian's packages:
//   redis-server (for `npm start` without REDIS_URL and its test), chromium (for the map's browser test),
//   docker.io and debootstrap (for the agent container tests: a Docker engine, and the agent image's
//   local base, assembled from Debian's packages because no container registry is reachable here),
//   docker-compose (the deploy test validates the Compose files).
// For `test` it also starts a Docker engine when none answers, and builds the agent image's local
// base when the engine lacks it (minutes, once: agent-image/docker/build-base-image.mjs), so that
// no test spends its time limit on it.
// Runs as `prestart` / `pretest`; does nothing (and says nothing) when everything is there.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const needs = {
  start: [
    {
      command: 'redis-server',
      package: 'redis-server',
      why: 'the local Redis of `npm start`',
      optional: !!process.env.REDIS_URL,
    },
  ],
  test: [
    { path: '/usr/bin/chromium', package: 'chromium', why: "the map's browser test" },
    { command: 'redis-server', package: 'redis-server', why: 'the test of `npm start`' },
    { command: 'dockerd', package: 'docker.io', why: 'the agent container tests (a Docker engine)' },
    { command: 'debootstrap', package: 'debootstrap', why: "the agent image's local base" },
    { command: 'docker-compose', package: 'docker-compose', why: 'the deploy test (the Compose files validate)' },
  ],
};

const mode = process.argv[2] ?? 'start';
const isRoot = process.getuid?.() === 0;
const missing = (needs[mode] ?? []).filter((need) => !need.optional && !present(need));
if (missing.length > 0) install(missing);
if (mode === 'test') {
  await ensureDockerEngine();
  await ensureAgentBaseImage();
}

function install(missing) {
  const packages = missing.map((need) => need.package);
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(
      `Missing: ${missing.map((n) => `${n.package} (${n.why})`).join(', ')}. Install with: sudo apt-get install -y ${packages.join(' ')}`,
    );
    process.exit(1);
  }
  console.error(
    `Installing ${packages.join(', ')} from Debian's packages (${missing.map((n) => n.why).join('; ')})...`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
}

function present(need) {
  if (need.path) return existsSync(need.path);
  return spawnSync('sh', ['-c', `command -v ${need.command}`], { stdio: 'ignore' }).status === 0;
}

function engineAnswers() {
  return spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore' }).status === 0;
}

/** Starts dockerd in the background (it outlives this script, like a service) unless an engine answers. */
async function ensureDockerEngine() {
  if (engineAnswers()) return;
  if (!isRoot) {
    console.error('No Docker engine answers, and only root can start one here: start dockerd (or the docker service).');
    process.exit(1);
  }
  const log = join(tmpdir(), 'ai-village-dockerd.log');
  console.error(`Starting the Docker engine (dockerd, log in ${log})...`);
  const output = openSync(log, 'a');
  spawn('dockerd', [], { detached: true, stdio: ['ignore', output, output] }).unref();
  for (let waited = 0; waited < 60; waited++) {
    if (engineAnswers()) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  console.error(`dockerd did not answer within a minute; see ${log}`);
  process.exit(1);
}

/** The local base of the agent image: a no-op when the engine has the current one. */
async function ensureAgentBaseImage() {
  const script = new URL('../agent-image/docker/build-base-image.mjs', import.meta.url);
  const { baseReference } = await import(script.href);
  const { reference } = baseReference();
  if (spawnSync('docker', ['image', 'inspect', reference], { stdio: 'ignore' }).status === 0) return;
  console.error(`Building the agent image's local base ${reference} (Debian and Node, a few minutes, once)...`);
  const result = spawnSync(process.execPath, [script.pathname], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
