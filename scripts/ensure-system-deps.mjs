// Installs the system packages the village needs when they are missing, from Debian's packages:
//   redis-server (for `npm start` without REDIS_URL and its test), chromium (for the map's browser test).
// Runs as `prestart` / `pretest`; does nothing when everything is there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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
  ],
};

const mode = process.argv[2] ?? 'start';
const missing = (needs[mode] ?? []).filter((need) => !need.optional && !present(need));
if (missing.length === 0) process.exit(0);

const packages = missing.map((need) => need.package);
const isRoot = process.getuid?.() === 0;
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  console.error(
    `Missing: ${missing.map((n) => `${n.package} (${n.why})`).join(', ')}. Install with: sudo apt-get install -y ${packages.join(' ')}`,
  );
  process.exit(1);
}
console.error(`Installing ${packages.join(', ')} from Debian's packages (${missing.map((n) => n.why).join('; ')})...`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });

function present(need) {
  if (need.path) return existsSync(need.path);
  return spawnSync('sh', ['-c', `command -v ${need.command}`], { stdio: 'ignore' }).status === 0;
}
