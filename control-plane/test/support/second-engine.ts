// A second Docker engine on this machine for the fleet's two-node tests: its own dockerd with its own
// socket, exec root and data root, no bridge network and no iptables rules (containers run with
// --network none or host only), and a TCP endpoint on loopback with mutual TLS (a test CA made with
// openssl), so that the fleet drives it the way it drives a remote node. Started by the test, stopped
// after it: its containers are removed and dockerd ends; the data root is kept as a cache holding only
// the current agent image (loading it takes a minute), in TEST_SECOND_ENGINE_DATA_ROOT
// (default /var/lib/ai-village-test-engine). Only one second engine runs at a time (a lock file).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { eventually } from './eventually.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface EngineTls {
  ca: string;
  cert: string;
  key: string;
}

export interface SecondEngine {
  socketPath: string;
  /** The engine over its unix socket (for the test's own checks). */
  docker: Docker;
  /** The engine's TCP endpoint on loopback, and a client certificate it accepts. */
  tcp: { host: string; port: number; tls: EngineTls };
  /** dockerd's output so far (for a failure's message). */
  output(): string;
  /** Stops dockerd (its containers end with it) and starts it again on the same settings. */
  restart(): Promise<void>;
  /** Stops dockerd alone (the node goes down). */
  halt(): Promise<void>;
  stop(): Promise<void>;
}

const DATA_ROOT = process.env.TEST_SECOND_ENGINE_DATA_ROOT ?? '/var/lib/ai-village-test-engine';

export async function startSecondEngine(): Promise<SecondEngine> {
  if (process.getuid?.() !== 0) throw new Error('a second dockerd needs root');
  mkdirSync(DATA_ROOT, { recursive: true, mode: 0o700 });
  const release = await takeLock(`${DATA_ROOT}.lock`);
  // A short path: containerd's socket lives under the exec root, and socket paths are limited to 108 bytes.
  const execRoot = mkdtempSync('/tmp/vte-');
  const socketPath = join(execRoot, 'docker.sock');
  const tls = await makeTls(execRoot);
  const port = await freePort();
  writeFileSync(join(execRoot, 'daemon.json'), '{}');
  const args = [
    '--data-root',
    DATA_ROOT,
    '--exec-root',
    execRoot,
    '--pidfile',
    join(execRoot, 'docker.pid'),
    '--config-file',
    join(execRoot, 'daemon.json'),
    '--host',
    `unix://${socketPath}`,
    '--host',
    `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    '--tlscacert',
    join(execRoot, 'ca.pem'),
    '--tlscert',
    join(execRoot, 'server.pem'),
    '--tlskey',
    join(execRoot, 'server.key'),
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
    '--userland-proxy=false',
    '--log-level=warn',
  ];
  let daemon: ChildProcess | undefined;
  let output = '';
  const docker = new Docker({ socketPath });

  async function up() {
    daemon = spawn('dockerd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    daemon.stdout!.on('data', keep);
    daemon.stderr!.on('data', keep);
    writeFileSync(`${DATA_ROOT}.lock`, `${process.pid} ${daemon.pid}\n`);
    await eventually(
      async () => {
        if (daemon!.exitCode !== null) throw new Error(`dockerd exited (${daemon!.exitCode}): ${output.slice(-3000)}`);
        return docker.ping().then(
          () => true,
          () => false,
        );
      },
      'the second dockerd to answer',
      60_000,
    );
  }

  async function down() {
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise((resolve) => daemon!.once('exit', resolve));
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon?.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  try {
    await up();
  } catch (error) {
    await down();
    rmSync(execRoot, { recursive: true, force: true });
    release();
    throw error;
  }

  return {
    socketPath,
    docker,
    tcp: { host: '127.0.0.1', port, tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } },
    output: () => output,
    restart: async () => {
      await down();
      await up();
    },
    halt: down,
    async stop() {
      const tidy = async () => {
        const containers = await docker.listContainers({ all: true }).catch(() => []);
        await Promise.all(
          containers.map((info) =>
            docker
              .getContainer(info.Id)
              .remove({ force: true, v: true })
              .catch(() => undefined),
          ),
        );
        const volumes = await docker.listVolumes().catch(() => ({ Volumes: [] }));
        await Promise.all(
          (volumes.Volumes ?? []).map((volume) =>
            docker
              .getVolume(volume.Name)
              .remove()
              .catch(() => undefined),
          ),
        );
      };
      try {
        // An engine that stopped answering must not hang the suite: its data goes with its directory below.
        if (daemon && daemon.exitCode === null) {
          let timer: NodeJS.Timeout | undefined;
          const gaveUp = new Promise<'gave up'>((resolve) => (timer = setTimeout(() => resolve('gave up'), 20_000)));
          if ((await Promise.race([tidy(), gaveUp])) === 'gave up') {
            console.log('# the second dockerd did not answer its clean-up within 20 s; stopping it anyway');
          }
          clearTimeout(timer);
        }
      } finally {
        await down();
        await unmountUnder(execRoot);
        rmSync(execRoot, { recursive: true, force: true });
        release();
      }
    },
  };
}

/**
 * Puts `reference` (from the main engine) on the second engine unless it has it, and removes the
 * second engine's other agent images, so that its data root holds one.
 */
export async function copyImage(from: Docker, to: Docker, reference: string): Promise<void> {
  const images = await to.listImages({ filters: { reference: [reference.split(':')[0]!] } });
  for (const image of images) {
    if (!(image.RepoTags ?? []).includes(reference)) {
      await to
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }
  if (images.some((image) => (image.RepoTags ?? []).includes(reference))) return;
  const stream = await from.getImage(reference).get();
  const loading = await to.loadImage(stream, { quiet: true });
  await new Promise<void>((resolve, reject) =>
    to.modem.followProgress(loading, (error: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** What dockerd left mounted under its exec root (its network namespace), so that the directory can go. */
async function unmountUnder(root: string) {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) await run('umount', ['-l', target]).catch(() => undefined);
}

/** Waits for the data root's lock (another run using it); a lock whose holder is gone is taken over. */
async function takeLock(file: string): Promise<() => void> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch {
      const [holder, daemon] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
      if (!alive(holder)) {
        // Its test process died: end the dockerd it left on this data root, then take the lock.
        if (daemon && alive(daemon) && readFileSync(`/proc/${daemon}/cmdline`, 'utf8').includes(DATA_ROOT)) {
          process.kill(daemon, 'SIGTERM');
          await eventually(() => !alive(daemon), 'the abandoned second dockerd to end', 30_000);
        }
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the second engine's data root is held by process ${holder}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`);
  } catch {
    return false;
  }
}

/** A test CA, the engine's server certificate (for 127.0.0.1) and a client certificate, made by openssl. */
export async function makeTls(dir: string) {
  const path = (name: string) => join(dir, name);
  writeFileSync(
    path('ext.cnf'),
    [
      '[server]',
      'basicConstraints = critical, CA:FALSE',
      'subjectAltName = IP:127.0.0.1',
      'extendedKeyUsage = serverAuth',
      '[client]',
      'basicConstraints = critical, CA:FALSE',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const key = (name: string) =>
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(`${name}.key`)]);
  await Promise.all(['ca', 'server', 'client'].map(key));
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    path('ca.key'),
    '-subj',
    '/CN=village test engine CA',
    '-days',
    '2',
    '-out',
    path('ca.pem'),
  ]);
  const issue = async (name: string, subject: string) => {
    await run('openssl', ['req', '-new', '-key', path(`${name}.key`), '-subj', subject, '-out', path(`${name}.csr`)]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      path('ext.cnf'),
      '-extensions',
      name,
      '-out',
      path(`${name}.pem`),
    ]);
  };
  await issue('server', '/CN=127.0.0.1');
  await issue('client', '/CN=village control plane');
  return {
    ca: readFileSync(path('ca.pem'), 'utf8'),
    clientCert: readFileSync(path('client.pem'), 'utf8'),
    clientKey: readFileSync(path('client.key'), 'utf8'),
  };
}
