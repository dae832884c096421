// Runs every compiled test file of every workspace with Node's test runner (`npm test`).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['control-plane/dist/test', 'agent-image/dist/test', 'nodes/dist/test'];
const files = roots.flatMap((root) => walk(root)).filter((file) => file.endsWith('.test.js'));
if (files.length === 0) {
  console.error('no compiled tests found; run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);

function walk(dir) {
  try {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  } catch {
    return [];
  }
}
