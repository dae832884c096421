#!/usr/bin/env node
// Run inside the image build: imports every module of the runtime (not the entry points, which start
// things: the files with a #! line), so that a package the staging left out fails the build, not an agent.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.argv[2];
const modules = readdirSync(root, { recursive: true })
  .filter((name) => name.endsWith('.js'))
  .map((name) => join(root, name))
  .filter((path) => !readFileSync(path, 'utf8').startsWith('#!'));
for (const path of modules) await import(pathToFileURL(path).href);
process.stderr.write(`runtime: ${modules.length} modules load on Node ${process.version}\n`);
