#!/usr/bin/env node
// Run inside the image build, so that a package the staging left out fails the build, not an agent:
//   - every declared dependency of the runtime is installed where Node will look for it (some, like
//     playwright-core, are imported only on first use, so loading the modules would not notice);
//   - every module of the runtime loads (not the entry points, which start things: the files with a #! line).
//   node check-runtime.mjs <agent-image directory>
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const packageDirectory = process.argv[2];
const { dependencies = {} } = JSON.parse(readFileSync(join(packageDirectory, 'package.json'), 'utf8'));
const missing = Object.keys(dependencies).filter((name) => !installed(name, packageDirectory));
if (missing.length > 0) throw new Error(`the runtime's dependencies are not in the image: ${missing.join(', ')}`);

const root = join(packageDirectory, 'dist/src');
const modules = readdirSync(root, { recursive: true })
  .filter((name) => name.endsWith('.js'))
  .map((name) => join(root, name))
  .filter((path) => !readFileSync(path, 'utf8').startsWith('#!'));
for (const path of modules) await import(pathToFileURL(path).href);
process.stderr.write(
  `runtime: ${Object.keys(dependencies).length} dependencies found, ${modules.length} modules load on Node ${process.version}\n`,
);

/** Node's lookup: node_modules/<name> in the directory or any above it. */
function installed(name, from) {
  for (let directory = from; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'node_modules', name, 'package.json'))) return true;
    if (directory === dirname(directory)) return false;
  }
}
