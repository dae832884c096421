// The parts the fault suite (test/faults.e2e.test.ts) and the ops benchmark (bench/ops-bench.ts) put
// around real control-plane processes to break things on purpose, on loopback only: a TCP proxy that
// can cut the database away, a round-robin load balancer (what the reverse proxy does in deploy/), a
// Redis of their own that can be restarted, replicas as processes that can be killed and started again,
// and a mixed load of moves, posts and transfers that remembers what each client was told.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** Forwards every connection to one upstream; `cut()` drops them all and refuses new ones until `restore()`. */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private down = false;
  port = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {
    this.server = net.createServer((client) => {
      if (this.down) return client.destroy();
      const upstream = net.connect(this.upstreamPort, this.upstreamHost);
      this.track(client, upstream);
      client.pipe(upstream).pipe(client);
    });
  }

  private track(...sockets: net.Socket[]) {
    for (const socket of sockets) {
      this.open.add(socket);
      socket.on('error', () => sockets.forEach((s) => s.destroy()));
      socket.on('close', () => {
        this.open.delete(socket);
        sockets.forEach((s) => s.destroy());
      });
    }
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Every open connection is reset and new ones are closed at once: the database is "gone". */
  cut() {
    this.down = true;
    for (const socket of this.open) socket.destroy();
  }

  restore() {
    this.down = false;
  }

  close() {
    this.cut();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP load balancer over the replicas, round robin by connection, trying the next backend when one
 * refuses: what a reverse proxy in front of the control plane does, with no HTTP of its own.
 */
export class LoadBalancer {
  private readonly server: net.Server;
  private next = 0;
  port = 0;

  constructor(private readonly backends: () => number[]) {
    this.server = net.createServer((client) => {
      client.pause();
      client.on('error', () => client.destroy());
      this.connect(client, 0);
    });
  }

  private connect(client: net.Socket, attempt: number) {
    const ports = this.backends();
    if (attempt >= ports.length || client.destroyed) return client.destroy();
    const port = ports[this.next++ % ports.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      // A backend that is down refuses at once: the client goes to the next one, as behind a real proxy.
      if (!connected) this.connect(client, attempt + 1);
      else client.destroy();
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A redis-server of our own (AOF on, like deploy/), so that restarting it disturbs nobody else. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'village-fault-redis-'));

  constructor(readonly port: number) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    this.child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir],
        ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
      ],
      { stdio: 'ignore' },
    );
    await eventually(() => this.ping(), 'redis-server to answer', 10_000);
  }

  private ping() {
    return spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
  }

  /** A clean stop (SIGTERM: Redis writes its AOF out), as an operator's restart does. */
  stop(signal: NodeJS.Signals = 'SIGTERM') {
    return new Promise<void>((resolve) => {
      if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }

  async dispose() {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A control-plane replica as its own process (the production main), so that it can really die. */
export class ReplicaProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get running() {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start() {
    this.child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', VILLAGE_REPLICA_ID: this.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    await this.healthy();
  }

  healthy(timeoutMs = 30_000) {
    return eventually(
      async () => this.running && (await fetch(`${this.url}/api/health`).catch(() => undefined))?.ok === true,
      `${this.name} to answer /api/health (output: ${this.output.slice(-800)})`,
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals = 'SIGKILL') {
    return new Promise<void>((resolve) => {
      if (!this.child || !this.running) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}

export type Outcome = 'accepted' | 'refused' | 'unknown';

/** One write a client sent, and what it was finally told (after its retries). */
export interface SentWrite {
  kind: 'move' | 'post' | 'transfer';
  key: string;
  agentId: string;
  outcome: Outcome;
  /** Status codes of every attempt (0: no answer). */
  attempts: number[];
  /** The transfer id the client was given, when accepted. */
  transferId?: number;
}

export interface LoadRates {
  moves: number;
  posts: number;
  transfers: number;
}

interface Answer {
  status: number;
  body: string;
}

const REQUEST_TIMEOUT_MS = 10_000;
/** Statuses after which a client with an idempotency key tries again: no answer, 409 in progress, 429, 5xx. */
const retryable = (status: number) => status === 0 || status === 409 || status === 429 || status >= 500;

/**
 * Moves, posts and transfers at steady rates through one base URL (the load balancer), with the admin
 * token, as clients would send them: a move once (it has no idempotency key, so an unanswered move is
 * not repeated), a post or transfer with an `Idempotency-Key`, retried with the same key until it gets a
 * definite answer or the load is drained. Every write's final outcome is kept for the checks.
 */
export class MixedLoad {
  readonly writes: SentWrite[] = [];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private timers: NodeJS.Timeout[] = [];
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;
  private moveTurn = 0;
  private draining = false;
  /** Answers per second, by kind and outcome, for the benchmark's throughput. */
  readonly acceptedAt: { kind: SentWrite['kind']; at: number }[] = [];

  constructor(
    private readonly base: URL,
    private readonly adminToken: string,
    private readonly agentIds: string[],
    private readonly runId: string,
  ) {}

  start(rates: LoadRates) {
    this.draining = false;
    const every = (perSecond: number, send: () => Promise<void>) => {
      if (perSecond <= 0) return;
      const started = performance.now();
      let sent = 0;
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
        for (; sent < due; sent++) this.track(send());
      }, 5);
      this.timers.push(timer);
    };
    every(rates.moves, () => this.move());
    every(rates.posts, () => this.post());
    every(rates.transfers, () => this.transfer());
  }

  /** Stops sending new writes and waits (at most `ms`) for the retries of those in flight. */
  async drain(ms: number) {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.draining = true;
    const deadline = new Promise((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([Promise.all([...this.pending]), deadline]);
  }

  close() {
    this.agent.destroy();
  }

  /** One write of a kind, awaited (with its retries): for closed-loop throughput. */
  send(kind: SentWrite['kind']): Promise<void> {
    return kind === 'move' ? this.move() : kind === 'post' ? this.post() : this.transfer();
  }

  count(kind: SentWrite['kind'], outcome: Outcome) {
    return this.writes.filter((write) => write.kind === kind && write.outcome === outcome).length;
  }

  private track(work: Promise<void>) {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async move() {
    const index = this.moveTurn++;
    const agentId = this.agentIds[index % this.agentIds.length]!;
    // Each agent alternates east and west along the main street, so it never walks off it.
    const dx = Math.floor(index / this.agentIds.length) % 2 === 0 ? 1 : -1;
    const write: SentWrite = { kind: 'move', key: `move-${index}`, agentId, outcome: 'unknown', attempts: [] };
    this.writes.push(write);
    const answer = await this.request('POST', `/api/agents/${agentId}/move`, { dx });
    write.attempts.push(answer.status);
    write.outcome = classify(answer.status);
    if (write.outcome === 'accepted') this.acceptedAt.push({ kind: 'move', at: performance.now() });
  }

  private post() {
    const key = `${this.runId}-post-${this.sequence++}`;
    const agentId = this.agentIds[this.sequence % this.agentIds.length]!;
    return this.withRetries({ kind: 'post', key, agentId, outcome: 'unknown', attempts: [] }, () =>
      this.request('POST', '/api/posts', { title: key, body: `a post of the fault load (${key})` }, key),
    );
  }

  private transfer() {
    const key = `${this.runId}-transfer-${this.sequence++}`;
    const agentId = this.agentIds[this.sequence % this.agentIds.length]!;
    const other = this.agentIds[(this.sequence + 1) % this.agentIds.length]!;
    // Grants from the treasury and payments between agents, small enough never to run out.
    const body =
      this.sequence % 2 === 0
        ? { debitAccount: 'treasury', creditAccount: `agent:${agentId}`, amount: 100, reason: 'grant' }
        : { debitAccount: `agent:${agentId}`, creditAccount: `agent:${other}`, amount: 7, reason: 'transfer' };
    return this.withRetries({ kind: 'transfer', key, agentId, outcome: 'unknown', attempts: [] }, async () => {
      const answer = await this.request('POST', '/api/transfers', { ...body, memo: key }, key);
      return answer;
    });
  }

  private async withRetries(write: SentWrite, send: () => Promise<Answer>) {
    this.writes.push(write);
    for (;;) {
      const answer = await send();
      write.attempts.push(answer.status);
      if (!retryable(answer.status)) {
        write.outcome = classify(answer.status);
        if (write.outcome === 'accepted') {
          this.acceptedAt.push({ kind: write.kind, at: performance.now() });
          if (write.kind === 'transfer') write.transferId = (JSON.parse(answer.body) as { id: number }).id;
        }
        return;
      }
      // A drained load still retries what it had started, for as long as drain() waits.
      await new Promise((resolve) => setTimeout(resolve, this.draining ? 500 : 250));
      if (this.draining && write.attempts.length > 200) return;
    }
  }

  private request(method: string, path: string, body: unknown, idempotencyKey?: string): Promise<Answer> {
    const payload = JSON.stringify(body);
    return new Promise((resolve) => {
      const request = http.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            authorization: `Bearer ${this.adminToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          response.on('error', () => resolve({ status: 0, body: '' }));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', () => resolve({ status: 0, body: '' }));
      request.end(payload);
    });
  }
}

function classify(status: number): Outcome {
  if (status >= 200 && status < 300) return 'accepted';
  if (status >= 400 && status < 500 && status !== 409 && status !== 429) return 'refused';
  return 'unknown';
}
