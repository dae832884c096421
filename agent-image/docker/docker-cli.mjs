// What the two image scripts share: running commands (the docker CLI among them), a build lock so
// that two test runs or a test and a benchmark never build at once, and content hashes.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Progress goes to stderr: stdout carries only the image reference a script prints at the end. */
export function say(message) {
  process.stderr.write(`${message}\n`);
}

/** Runs a command with its output on our stderr; rejects naming the command when it fails. */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', process.stderr, process.stderr], ...options });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** A command's stdout, trimmed; undefined when it fails. */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** The image's id, or undefined when the engine has no image by that reference. */
export function imageId(reference) {
  return capture('docker', ['image', 'inspect', '--format', '{{.Id}}', reference]);
}

export function assertEngine() {
  if (capture('docker', ['version', '--format', '{{.Server.Version}}']) === undefined) {
    throw new Error(
      'no Docker engine answers (is dockerd running? `npm test` starts it: scripts/ensure-system-deps.mjs)',
    );
  }
}

/**
 * Holds a lock (a directory with the holder's pid) around `work`. A lock whose holder is gone is
 * taken over, so a build killed half way does not block the next one.
 */
export async function withBuildLock(work) {
  const lock = join(tmpdir(), 'ai-village-image-build.lock');
  let said = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const holder = Number(readFileIfAny(join(lock, 'pid')));
      if (holder > 0 && !isAlive(holder)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) say(`waiting for another image build (pid ${holder || 'starting'}) to finish`);
      said = true;
      await delay(1000);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readFileIfAny(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * A hash of a directory tree: every path, its kind, its executable bit and its content (or link
 * target), in a fixed order, so the same tree always hashes the same wherever and whenever it is copied.
 */
export function hashTree(root, hash = createHash('sha256')) {
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      const relativePath = relative(root, path);
      if (stat.isSymbolicLink()) {
        hash.update(`link ${relativePath} ${readlinkSync(path)}\0`);
      } else if (stat.isDirectory()) {
        hash.update(`dir ${relativePath}\0`);
        walk(path);
      } else {
        hash.update(`file ${relativePath} ${stat.mode & 0o111 ? 'x' : '-'}\0`);
        hash.update(readFileSync(path));
        hash.update('\0');
      }
    }
  };
  walk(root);
  return hash;
}

export function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

/**
 * Untags all but the newest `keep` images of a repository (besides :latest, :local and `current`),
 * so that builds do not pile up on the node's disk. An image a container still uses stays.
 */
export function pruneOldTags(repository, { keep, current }) {
  const tags = (capture('docker', ['image', 'ls', repository, '--format', '{{.Tag}}']) ?? '')
    .split('\n')
    .filter(
      (tag) => tag && tag !== '<none>' && tag !== 'latest' && tag !== 'local' && `${repository}:${tag}` !== current,
    );
  // `docker image ls` lists the newest first.
  for (const tag of tags.slice(Math.max(0, keep - 1))) capture('docker', ['image', 'rm', `${repository}:${tag}`]);
}
