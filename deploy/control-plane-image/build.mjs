#!/usr/bin/env node
// Builds the control-plane image (deploy/control-plane-image/Dockerfile) from the built tree:
//
//   npm run build && node deploy/control-plane-image/build.mjs [--base local|<image>] [--force] [--json]
//
// --base local (the default) builds on the agent image's local base (ai-village/agent-base, Debian
// bookworm with Node 22 LTS, assembled from Debian's and npm's packages: no registry needed, and the build
// itself gets no network); --base node:22-bookworm-slim builds on the public image. The context is staged:
// the control plane's package.json, dist/src (JavaScript only) and assets, the migrations, the built map
// and console, the default flows, the village's Node-RED nodes, and the production packages found through
// package-lock.json. The image is tagged ai-village/control-plane:<hash> and :latest, <hash> covering the
// base and every staged file; an unchanged tree reuses the image without building. Prints the reference.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBaseImage } from '../../agent-image/docker/build-base-image.mjs';
import {
  assertEngine,
  hashTree,
  imageId,
  pruneOldTags,
  run,
  say,
  withBuildLock,
} from '../../agent-image/docker/docker-cli.mjs';

export const CONTROL_PLANE_REPOSITORY = 'ai-village/control-plane';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const from = (...path) => join(ROOT, ...path);

/** Builds (or finds) the image; returns `{ reference, built, seconds }`. */
export async function ensureControlPlaneImage({ base = 'local', force = false } = {}) {
  assertEngine();
  const baseImage = base === 'local' ? await ensureBaseImage() : base;
  const stage = mkdtempSync(join(tmpdir(), 'ai-village-control-plane-image-'));
  try {
    stageContext(stage);
    const hash = hashTree(stage)
      .update(`base ${imageId(baseImage) ?? baseImage}`)
      .digest('hex')
      .slice(0, 16);
    const reference = `${CONTROL_PLANE_REPOSITORY}:${hash}`;
    if (!force && imageId(reference)) return { reference, built: false, seconds: 0 };
    return await withBuildLock(async () => {
      const started = Date.now();
      say(`control-plane image ${reference}: building on ${baseImage}`);
      await run('docker', [
        'build',
        ...(base === 'local' ? ['--network', 'none'] : []),
        '--force-rm',
        ...['--build-arg', `BASE_IMAGE=${baseImage}`],
        ...['--label', `ai-village.content-hash=${hash}`],
        ...['--tag', reference, '--tag', `${CONTROL_PLANE_REPOSITORY}:latest`],
        stage,
      ]);
      pruneOldTags(CONTROL_PLANE_REPOSITORY, { keep: 3, current: reference });
      const seconds = (Date.now() - started) / 1000;
      say(`control-plane image ${reference}: built in ${seconds.toFixed(1)} s`);
      return { reference, built: true, seconds };
    });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The build context: the Dockerfile, and village/ laid out as /opt/village in the image. */
export function stageContext(stage) {
  for (const built of ['control-plane/dist/src/main.js', 'map/dist/index.html', 'nodes/dist/src']) {
    if (!existsSync(from(built))) throw new Error(`${built} is missing: build first (npm run build)`);
  }
  cpSync(join(HERE, 'Dockerfile'), join(stage, 'Dockerfile'));
  const village = join(stage, 'village');
  const copy = (path, filter) =>
    existsSync(from(path)) && cpSync(from(path), join(village, path), { recursive: true, filter });
  const javaScript = (path) => !/\.(d\.ts|map|tsbuildinfo)$/.test(path) && !path.endsWith('.ts');
  copy('control-plane/package.json');
  copy('control-plane/dist/src', javaScript);
  copy('control-plane/assets', (path) => !path.endsWith('.png') || !path.includes('village-tiles'));
  copy('prisma/migrations');
  copy('map/dist');
  copy('admin/dist');
  copy('flows/default-flows.json');
  // The village's Node-RED nodes, found by Node-RED as a package in node_modules.
  const nodes = join(village, 'node_modules/@ai-village/nodes');
  cpSync(from('nodes/package.json'), join(nodes, 'package.json'));
  cpSync(from('nodes/dist/src'), join(nodes, 'dist/src'), { recursive: true, filter: javaScript });
  if (existsSync(from('nodes/icons'))) cpSync(from('nodes/icons'), join(nodes, 'icons'), { recursive: true });
  // The nodes import the control plane's contract: the control plane itself, linked.
  mkdirSync(join(village, 'node_modules/@ai-village'), { recursive: true });
  symlinkSync('../../control-plane', join(village, 'node_modules/@ai-village/control-plane'));

  const lock = JSON.parse(readFileSync(from('package-lock.json'), 'utf8'));
  for (const location of productionPackages(lock.packages, ['control-plane', 'nodes'])) {
    cpSync(from(location), join(village, location), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => !source.slice(from(location).length).split('/').includes('node_modules'),
    });
  }
}

/**
 * Lockfile locations of every package the workspaces `roots` need at run time, resolved as Node resolves
 * them; workspace links (the village's own packages) are staged above, not copied.
 */
function productionPackages(packages, roots) {
  const needed = new Set();
  const visit = (fromLocation, name, optional) => {
    const location = resolveInLock(packages, fromLocation, name);
    if (location === undefined) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} for ${fromLocation}: run npm install`);
    }
    const entry = packages[location];
    if (entry.link || needed.has(location)) return;
    if (!existsSync(from(location))) {
      if (optional || entry.optional) return;
      throw new Error(`${location} is not installed: run npm install`);
    }
    needed.add(location);
    visitDependencies(location, entry);
  };
  const visitDependencies = (location, entry) => {
    for (const name of Object.keys(entry.dependencies ?? {})) visit(location, name, false);
    for (const name of Object.keys(entry.optionalDependencies ?? {})) visit(location, name, true);
    for (const name of Object.keys(entry.peerDependencies ?? {}))
      visit(location, name, entry.peerDependenciesMeta?.[name]?.optional === true);
  };
  for (const root of roots) visitDependencies(root, packages[root]);
  return [...needed].sort();
}

function resolveInLock(packages, fromLocation, name) {
  for (let directory = fromLocation; ; directory = parentOf(directory)) {
    const location = `${directory ? `${directory}/` : ''}node_modules/${name}`;
    if (packages[location]) return location;
    if (directory === '') return undefined;
  }
}

function parentOf(location) {
  const nested = location.lastIndexOf('/node_modules/');
  if (nested >= 0) return location.slice(0, nested);
  return location.startsWith('node_modules/') ? '' : dirname(location) === '.' ? '' : dirname(location);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const baseIndex = args.indexOf('--base');
  try {
    const result = await ensureControlPlaneImage({
      base: baseIndex >= 0 ? args[baseIndex + 1] : 'local',
      force: args.includes('--force'),
    });
    process.stdout.write(`${args.includes('--json') ? JSON.stringify(result) : result.reference}\n`);
  } catch (error) {
    console.error(`building the control-plane image failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
