#!/usr/bin/env node
// Builds the agent image (agent-image/Dockerfile) from the built runtime: `npm run image:build`.
//
//   node agent-image/docker/build-image.mjs [--base local|<image>] [--no-cache] [--force] [--json] [--stage-only <dir>]
//
// --base local (the default) builds on the local base from build-base-image.mjs (built first when
// missing), with no network at all inside the build; --base node:22-bookworm-slim (or any Debian
// bookworm Node LTS image) builds on the public image, whose tools install step then uses apt.
// The build context is staged, not the repository: the Dockerfile, the tool list, agent-image's
// package.json and dist/src (JavaScript only), the control plane's contract (dist/src/contract, the
// only part of @ai-village/control-plane the runtime imports), and the runtime's production packages,
// found through package-lock.json and copied from node_modules. So nothing is downloaded and the
// image holds no dev tools, no control plane, no TypeScript sources.
//
// The image is tagged ai-village/agent:<hash> (and :latest), where <hash> covers the base image's id,
// every staged file and the packages' lockfile identities (location, version, integrity, and the
// version installed; so a check that finds the image copies no package and takes well under a second):
// an unchanged tree reuses the image without building (--force builds anyway, through Docker's layer
// cache; add --no-cache for none). Prints the image reference on stdout. --check builds nothing: it
// only says whether the image of the current tree exists (`"missing": true` in --json when not).
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseReference, ensureBaseImage } from './build-base-image.mjs';
import { assertEngine, hashTree, imageId, pruneOldTags, run, say, withBuildLock } from './docker-cli.mjs';

export const AGENT_REPOSITORY = 'ai-village/agent';
const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The workspace package the runtime takes only its contract from. */
const CONTROL_PLANE = '@ai-village/control-plane';
/** What the contract imports (it imports only zod, by design: it runs in browsers too). */
const CONTRACT_DEPENDENCIES = ['zod'];

/**
 * Builds (or finds) the agent image; returns `{ reference, built, seconds }`.
 * With `checkOnly`, nothing is built: `{ reference, built: false, missing: true }` when it is not there.
 * @param {{ base?: string, noCache?: boolean, force?: boolean, checkOnly?: boolean }} options
 */
export async function ensureAgentImage({ base = 'local', noCache = false, force = false, checkOnly = false } = {}) {
  assertEngine();
  const baseImage = base === 'local' ? (checkOnly ? baseReference().reference : await ensureBaseImage()) : base;
  const stage = mkdtempSync(join(tmpdir(), 'ai-village-agent-image-'));
  try {
    // Everything but the packages first: they are hashed by their lockfile identity, and copied only to build.
    const packages = stageContext(stage, { packages: false });
    const baseId = imageId(baseImage) ?? baseImage; // a public base not pulled yet: its name
    const hash = hashTree(stage)
      .update(packages.map((entry) => `package ${entry.identity}\n`).join(''))
      .update(`base ${baseId}`)
      .digest('hex')
      .slice(0, 16);
    const reference = `${AGENT_REPOSITORY}:${hash}`;
    if (!force && !noCache && imageId(reference)) return { reference, built: false, seconds: 0 };
    if (checkOnly) return { reference, built: false, seconds: 0, missing: true };
    return await withBuildLock(async () => {
      // Another process may have built it while this one waited for the lock.
      if (!force && !noCache && imageId(reference)) return { reference, built: false, seconds: 0 };
      const started = Date.now();
      for (const entry of packages) entry.copy();
      say(`agent image ${reference}: building on ${baseImage}${noCache ? ' without cache' : ''}`);
      await run('docker', [
        'build',
        // The local base has every tool: the build needs no network, so it gets none.
        ...(base === 'local' ? ['--network', 'none'] : []),
        ...(noCache ? ['--no-cache'] : []),
        // A failed step leaves no container behind.
        '--force-rm',
        '--build-arg',
        `BASE_IMAGE=${baseImage}`,
        '--label',
        `ai-village.content-hash=${hash}`,
        '--tag',
        reference,
        '--tag',
        `${AGENT_REPOSITORY}:latest`,
        stage,
      ]);
      const seconds = (Date.now() - started) / 1000;
      pruneOldTags(AGENT_REPOSITORY, { keep: 5, current: reference });
      say(`agent image ${reference}: built in ${seconds.toFixed(1)} s`);
      return { reference, built: true, seconds };
    });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Writes the build context into `stage` (see the Dockerfile's header for its layout). With
 * `packages: false` the runtime's packages are left out; either way it returns them, each with its
 * identity (lockfile location, version and integrity, and the version installed) and a `copy()`.
 */
export function stageContext(stage, { packages = true } = {}) {
  const from = (...path) => join(REPOSITORY_ROOT, ...path);
  for (const built of ['agent-image/dist/src/main.js', 'control-plane/dist/src/contract/index.js']) {
    if (!existsSync(from(built))) throw new Error(`${built} is missing: build first (npm run build)`);
  }
  copyFileSync(from('agent-image/Dockerfile'), join(stage, 'Dockerfile'));
  mkdirSync(join(stage, 'docker'));
  for (const name of ['tools.txt', 'install-tools.sh', 'check-runtime.mjs']) {
    copyFileSync(join(HERE, name), join(stage, 'docker', name));
  }

  const runtime = join(stage, 'runtime');
  copyJavaScript(from('agent-image/dist/src'), join(runtime, 'agent-image/dist/src'));
  copyFileSync(from('agent-image/package.json'), join(runtime, 'agent-image/package.json'));

  // The contract, as a package of its own that exports only ./contract.
  const controlPlane = JSON.parse(readFileSync(from('control-plane/package.json'), 'utf8'));
  const contractPackage = join(runtime, 'node_modules', CONTROL_PLANE);
  copyJavaScript(from('control-plane/dist/src/contract'), join(contractPackage, 'dist/src/contract'));
  writeFileSync(
    join(contractPackage, 'package.json'),
    `${JSON.stringify(
      {
        name: controlPlane.name,
        version: controlPlane.version,
        private: true,
        type: 'module',
        exports: { './contract': controlPlane.exports['./contract'] },
      },
      null,
      2,
    )}\n`,
  );

  const lock = JSON.parse(readFileSync(from('package-lock.json'), 'utf8'));
  const entries = productionPackages(lock.packages).map((location) => {
    const { version, integrity } = lock.packages[location];
    const installed = JSON.parse(readFileSync(from(location, 'package.json'), 'utf8')).version;
    return {
      identity: `${location} ${version} ${integrity ?? ''} installed ${installed}`,
      copy: () =>
        cpSync(from(location), join(runtime, location), {
          recursive: true,
          verbatimSymlinks: true,
          // Nested node_modules are packages of their own, copied only when the runtime needs them.
          filter: (source) => !source.slice(from(location).length).split('/').includes('node_modules'),
        }),
    };
  });
  if (packages) for (const entry of entries) entry.copy();
  return entries;
}

/** `.js` files of a built tree, nothing else (no declarations, maps or build info). */
function copyJavaScript(source, target) {
  cpSync(source, target, {
    recursive: true,
    filter: (path) => !/\.(d\.ts|map|tsbuildinfo)$/.test(path) && !path.endsWith('.ts'),
  });
}

/**
 * The lockfile locations (e.g. `node_modules/zod`, `agent-image/node_modules/x`) of every package the
 * runtime needs at run time: agent-image's dependencies and theirs, resolved the way Node resolves
 * them (the nearest node_modules upwards), the control-plane workspace replaced by its contract's.
 */
export function productionPackages(packages) {
  const needed = new Set();
  const visit = (from, name, optional) => {
    const location = resolveInLock(packages, from, name);
    if (location === undefined) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} for ${from || 'the root'}: run npm install`);
    }
    if (needed.has(location)) return;
    const entry = packages[location];
    if (entry.link) throw new Error(`${name} is a workspace link (${entry.resolved}): the image cannot copy it`);
    if (!existsSync(join(REPOSITORY_ROOT, location))) {
      if (optional || entry.optional) return; // an optional package npm skipped on this platform
      throw new Error(`${location} is not installed: run npm install`);
    }
    needed.add(location);
    visitDependencies(location, entry);
  };
  const visitDependencies = (location, entry) => {
    for (const name of Object.keys(entry.dependencies ?? {})) {
      if (name !== CONTROL_PLANE) visit(location, name, false);
    }
    for (const name of Object.keys(entry.optionalDependencies ?? {})) visit(location, name, true);
    for (const name of Object.keys(entry.peerDependencies ?? {})) {
      visit(location, name, entry.peerDependenciesMeta?.[name]?.optional === true);
    }
  };
  visitDependencies('agent-image', packages['agent-image']);
  for (const name of CONTRACT_DEPENDENCIES) visit('', name, false);
  return [...needed].sort();
}

function resolveInLock(packages, from, name) {
  for (let directory = from; ; directory = parentPackageDirectory(directory)) {
    const location = `${directory ? `${directory}/` : ''}node_modules/${name}`;
    if (packages[location]) return location;
    if (directory === '') return undefined;
  }
}

/** `a/node_modules/b/node_modules/@s/c` → `a/node_modules/b`; a top-level package or workspace → the root. */
function parentPackageDirectory(location) {
  const nested = location.lastIndexOf('/node_modules/');
  if (nested >= 0) return location.slice(0, nested);
  return location.startsWith('node_modules/') ? '' : dirname(location) === '.' ? '' : dirname(location);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const valueOf = (flag) => {
    const index = args.indexOf(flag);
    return index >= 0 ? args[index + 1] : undefined;
  };
  try {
    const stageOnly = valueOf('--stage-only');
    if (stageOnly) {
      mkdirSync(stageOnly, { recursive: true });
      stageContext(stageOnly);
      say(`build context staged in ${stageOnly}: docker build ${stageOnly}`);
    } else {
      const image = await ensureAgentImage({
        base: valueOf('--base') ?? process.env.VILLAGE_AGENT_BASE_IMAGE ?? 'local',
        noCache: args.includes('--no-cache'),
        force: args.includes('--force'),
        checkOnly: args.includes('--check'),
      });
      if (image.missing) say(`agent image ${image.reference}: not built (npm run image:build)`);
      else if (!image.built) say(`agent image ${image.reference}: up to date`);
      // --json: `{reference, built, seconds}` for the tests and the benchmark.
      process.stdout.write(`${args.includes('--json') ? JSON.stringify(image) : image.reference}\n`);
    }
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
