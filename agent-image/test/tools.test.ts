// The operator tools on the host, each against real things: a temporary workspace, bash, loopback
// HTTP servers (one that never answers, one that acts as the egress forwarder) and Debian's Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REDACTED, type ToolCallReport } from '@ai-village/control-plane/contract';
import { BrowserTool } from '../src/tools/browser-tool.js';
import { FileTool } from '../src/tools/file-tool.js';
import { HttpTool, type HttpAnswer } from '../src/tools/http-tool.js';
import { commandEnvironment, SHELL_LIMITS, ShellTool } from '../src/tools/shell-tool.js';
import { ToolRunner } from '../src/tools/tool-runner.js';
import { Workspace } from '../src/tools/workspace.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A loopback HTTP server whose handler the test gives; `requests` records the request lines. */
async function loopbackServer(handler: http.RequestListener) {
  const requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((request, response) => {
    requests.push({ method: request.method!, url: request.url!, headers: request.headers });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let root: string;
let outside: string;
let workspace: Workspace;

before(async () => {
  const base = await mkdtemp(join(tmpdir(), 'village-tools-'));
  root = join(base, 'workspace');
  outside = join(base, 'outside');
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'secret.txt'), 'not yours');
  workspace = new Workspace(root);
});

after(async () => {
  await rm(join(root, '..'), { recursive: true, force: true });
});

describe('file tool', () => {
  const files = () => new FileTool(workspace);

  it('writes (making directories), appends, reads and lists inside the workspace', async () => {
    const tool = files();
    assert.deepEqual(
      (await tool.run({ op: 'write', path: 'notes/today.md', content: 'Walked to the cafe.\n' })).output,
      'wrote 20 bytes to notes/today.md',
    );
    await tool.run({ op: 'write', path: `${root}/notes/today.md`, content: 'Met Bo.\n', append: true });
    const read = await tool.run({ op: 'read', path: 'notes/today.md' });
    assert.equal(read.ok, true);
    assert.equal(read.output, 'Walked to the cafe.\nMet Bo.\n');
    const listed = await tool.run({ op: 'list' });
    assert.equal(listed.output, 'notes/');
    assert.equal((await tool.run({ op: 'list', path: 'notes' })).output, 'today.md 28');
  });

  it('reads a slice and says how much is left', async () => {
    const tool = files();
    await tool.run({ op: 'write', path: 'big.txt', content: 'x'.repeat(1000) });
    const read = await tool.run({ op: 'read', path: 'big.txt', maxBytes: 100 });
    assert.equal(read.truncated, true);
    assert.match(read.output, /^x{100}\n\[… 900 more bytes; read again with offset 100\]$/);
  });

  it('refuses paths outside the workspace, symlink escapes included, with a clear error', async () => {
    const tool = files();
    await symlink(outside, join(root, 'escape'));
    await symlink(join(outside, 'secret.txt'), join(root, 'secret-link'));
    const attempts = [
      { op: 'read', path: '../outside/secret.txt' },
      { op: 'read', path: join(outside, 'secret.txt') },
      { op: 'read', path: '/etc/passwd' },
      { op: 'read', path: 'escape/secret.txt' },
      { op: 'read', path: 'secret-link' },
      { op: 'write', path: 'escape/new.txt', content: 'x' },
      { op: 'write', path: 'secret-link', content: 'overwritten' },
      { op: 'write', path: 'escape/deeper/new.txt', content: 'x' },
      { op: 'list', path: 'escape' },
      { op: 'list', path: '..' },
    ] as const;
    for (const input of attempts) {
      const result = await tool.run(input as never);
      assert.equal(result.ok, false, `${input.op} ${input.path}`);
      assert.match(result.error!, /outside the workspace .* \(refused\)/, `${input.op} ${input.path}`);
    }
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'not yours');
    assert.equal(existsSync(join(outside, 'new.txt')), false);
    assert.equal(existsSync(join(outside, 'deeper')), false);
    const missing = await tool.run({ op: 'read', path: 'nothing-here.txt' });
    assert.equal(missing.error, 'nothing-here.txt: no such file or directory');
  });
});

describe('shell tool', () => {
  const shell = (env: NodeJS.ProcessEnv = commandEnvironment(process.env)) => new ShellTool(workspace, env);

  it('runs a command in the workspace, with its exit code, stdout and stderr', async () => {
    await workspace.ready();
    const result = await shell().run({ command: 'pwd; echo out; echo err >&2; exit 3' });
    assert.equal(result.ok, false);
    assert.equal(result.exitCode, 3);
    assert.equal(result.error, 'exited with code 3');
    assert.match(result.output, /workspace\nout\n\[stderr\]\nerr\n$/);
    assert.equal(result.cwd, '.');
  });

  it('starts in a directory inside the workspace, never outside', async () => {
    await mkdir(join(root, 'project'), { recursive: true });
    const inside = await shell().run({ command: 'basename "$PWD"', cwd: 'project' });
    assert.deepEqual([inside.ok, inside.output, inside.cwd], [true, 'project\n', 'project']);
    const escaped = await shell().run({ command: 'pwd', cwd: '/tmp' });
    assert.equal(escaped.ok, false);
    assert.match(escaped.error!, /outside the workspace/);
  });

  it('adds env entries, and keeps the agent token and other secrets out of commands', async () => {
    const env = commandEnvironment({
      PATH: process.env.PATH,
      VILLAGE_AGENT_TOKEN: 'avt_0123456789abcdef',
      GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrst',
      VILLAGE_URL: 'http://127.0.0.1:3128',
    });
    const result = await shell(env).run({ command: 'env | sort', env: { GREETING: 'hello' } });
    assert.match(result.output, /^GREETING=hello$/m);
    assert.match(result.output, /^VILLAGE_URL=/m);
    assert.doesNotMatch(result.output, /VILLAGE_AGENT_TOKEN|GITHUB_TOKEN|avt_|ghp_/);
  });

  it('kills a runaway command and everything it started at the deadline', async () => {
    const started = Date.now();
    const result = await shell().run({
      command: 'sleep 30 & echo $! > runaway.pid; trap "" TERM; while true; do :; done',
      timeoutMs: 300,
    });
    const took = Date.now() - started;
    assert.equal(result.ok, false);
    assert.equal(result.exitCode, null);
    assert.match(result.error!, /timed out after 300 ms: the command and everything it started were killed/);
    assert.ok(took < 300 + SHELL_LIMITS.killGraceMs + 2000, `took ${took} ms`);
    const pid = Number(await readFile(join(root, 'runaway.pid'), 'utf8'));
    await delay(100);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the background sleep is gone too');
  });

  it('cuts a huge output at its cap and says how much it left out', async () => {
    const result = await shell().run({ command: 'head -c 10000000 /dev/zero | tr "\\0" x' });
    assert.equal(result.ok, true);
    assert.equal(result.truncated, true);
    assert.ok(result.output.length < SHELL_LIMITS.stdoutBytes + 200, String(result.output.length));
    assert.match(result.output, /\[… output cut at 65536 bytes: 9934464 more bytes\]$/);
  });
});

describe('http tool', () => {
  let server: Awaited<ReturnType<typeof loopbackServer>>;

  before(async () => {
    server = await loopbackServer((request, response) => {
      if (request.url === '/page') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end('<html><head><title>Hello</title></head><body>Hi there.</body></html>');
      } else if (request.url === '/echo') {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk));
        request.on('end', () => {
          response.writeHead(201, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ method: request.method, body, custom: request.headers['x-custom'] }));
        });
      } else if (request.url === '/moved') {
        response.writeHead(302, { location: '/page' });
        response.end();
      } else if (request.url === '/huge') {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('y'.repeat(3_000_000));
      } else if (request.url === '/never') {
        // Never answers.
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('no such page\n');
      }
    });
  });
  after(() => server.close());

  const direct = () => new HttpTool({ egress: false });

  it('GETs a page, follows a redirect, POSTs a body with headers', async () => {
    const page = await direct().run({ url: `${server.url}/moved`, method: 'GET' });
    assert.equal(page.ok, true);
    assert.equal(page.exitCode, 200);
    const answer = page.data as unknown as HttpAnswer;
    assert.equal(answer.url, `${server.url}/page`);
    assert.match(answer.body, /<title>Hello<\/title>/);
    assert.match(page.output, /^HTTP 200 OK\ncontent-type: text\/html; charset=utf-8\n\n<html>/);
    const posted = await direct().run({
      url: `${server.url}/echo`,
      method: 'POST',
      body: '{"a":1}',
      headers: { 'x-custom': 'yes' },
    });
    assert.equal(posted.exitCode, 201);
    assert.deepEqual(JSON.parse((posted.data as unknown as HttpAnswer).body), {
      method: 'POST',
      body: '{"a":1}',
      custom: 'yes',
    });
  });

  it('reports an error status as a failure the brain can read', async () => {
    const missing = await direct().run({ url: `${server.url}/nothing`, method: 'GET' });
    assert.deepEqual([missing.ok, missing.exitCode, missing.error], [false, 404, 'HTTP 404 Not Found: no such page']);
  });

  it('times out on a server that never answers', async () => {
    const started = Date.now();
    const result = await direct().run({ url: `${server.url}/never`, method: 'GET', timeoutMs: 300 });
    assert.equal(result.ok, false);
    assert.match(result.error!, /^timed out after 300 ms waiting for the answer \(127\.0\.0\.1:\d+\)$/);
    assert.ok(Date.now() - started < 2000);
  });

  it('stops reading at the size cap', async () => {
    const result = await direct().run({ url: `${server.url}/huge`, method: 'GET', maxBytes: 1000 });
    assert.equal(result.ok, true);
    assert.equal(result.truncated, true);
    assert.match((result.data as unknown as HttpAnswer).body, /^y{1000}\n\[… output cut at 1000 bytes/);
  });

  it('says when nothing listens', async () => {
    const closed = await loopbackServer(() => undefined);
    await closed.close();
    const result = await direct().run({ url: `${closed.url}/`, method: 'GET' });
    assert.equal(result.ok, false);
    assert.match(result.error!, /ECONNREFUSED/);
  });

  it('through the egress forwarder sends absolute-form requests, https:// ones too, and reads its refusals', async () => {
    const proxy = await loopbackServer((request, response) => {
      if (request.url!.includes('blocked.test')) {
        response.writeHead(403, { 'content-type': 'application/json', 'x-village-egress': 'refused' });
        response.end(JSON.stringify({ error: 'egress_refused', message: 'blocked.test:443 is not on the allow-list' }));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(`proxied ${request.method} ${request.url}`);
    });
    try {
      const tool = new HttpTool({ egress: true, proxy: { http: proxy.url, https: proxy.url, noProxy: [] } });
      const secure = await tool.run({ url: 'https://api.example.test/repos?x=1', method: 'GET' });
      assert.equal(secure.ok, true, secure.error);
      assert.equal((secure.data as unknown as HttpAnswer).body, 'proxied GET https://api.example.test/repos?x=1');
      assert.equal(proxy.requests[0]!.headers.host, 'api.example.test');
      const plain = await tool.run({ url: 'http://example.test/a', method: 'HEAD' });
      assert.equal(plain.exitCode, 200);
      assert.equal(proxy.requests[1]!.url, 'http://example.test/a');
      const refused = await tool.run({ url: 'https://blocked.test/', method: 'GET' });
      assert.equal(refused.ok, false);
      assert.equal(
        refused.error,
        'HTTP 403 Forbidden (the egress proxy refused it): blocked.test:443 is not on the allow-list',
      );
      // NO_PROXY hosts go directly (outside a container only).
      const bypass = new HttpTool({ egress: false, proxy: { http: proxy.url, noProxy: ['127.0.0.1'] } });
      assert.equal((await bypass.run({ url: `${server.url}/page`, method: 'GET' })).ok, true);
      assert.equal(proxy.requests.length, 3);
    } finally {
      await proxy.close();
    }
  });
});

describe('browser tool', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}` }, () => {
  let site: Awaited<ReturnType<typeof loopbackServer>>;
  let browser: BrowserTool;

  before(async () => {
    site = await loopbackServer((request, response) => {
      if (request.url === '/never') return;
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(`<!doctype html><title>Village form</title>
        <h1>Sign the guest book</h1>
        <input id="name" placeholder="name">
        <button id="sign" onclick="document.getElementById('out').textContent = 'Signed by ' + document.getElementById('name').value">Sign</button>
        <p id="out">Nobody yet.</p>`);
    });
    browser = new BrowserTool(workspace, { chromiumPath: CHROMIUM }, 60_000);
  });
  after(async () => {
    await browser.close();
    await site.close();
  });

  it('opens a page, reads its text, fills a field, clicks, and saves a screenshot in the workspace', async () => {
    const opened = await browser.run({ action: 'open', url: `${site.url}/form` });
    assert.equal(opened.ok, true, opened.error);
    assert.equal(opened.output, `opened ${site.url}/form (HTTP 200): Village form`);
    assert.match((await browser.run({ action: 'text' })).output, /Sign the guest book[\s\S]*Nobody yet\./);
    assert.equal((await browser.run({ action: 'fill', selector: '#name', value: 'Ada' })).ok, true);
    assert.equal((await browser.run({ action: 'click', selector: '#sign' })).ok, true);
    assert.equal((await browser.run({ action: 'text', selector: '#out' })).output, 'Signed by Ada');
    const shot = await browser.run({ action: 'screenshot', path: 'shots/form.png' });
    assert.equal(shot.ok, true, shot.error);
    const png = await readFile(join(root, 'shots/form.png'));
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    const escape = await browser.run({ action: 'screenshot', path: '../outside/x.png' });
    assert.match(escape.error!, /outside the workspace/);
  });

  it('gives up on a page that never loads, and keeps working afterwards', async () => {
    const stuck = await browser.run({ action: 'open', url: `${site.url}/never`, timeoutMs: 500 });
    assert.equal(stuck.ok, false);
    assert.equal(stuck.error, `the page ${site.url}/never did not load within 500 ms`);
    const missing = await browser.run({ action: 'click', selector: '#nothing', timeoutMs: 300 });
    assert.equal(missing.error, 'click did not finish within 300 ms');
    assert.equal((await browser.run({ action: 'open', url: `${site.url}/again` })).ok, true);
    assert.equal(browser.running, true);
    assert.equal((await browser.run({ action: 'close' })).output, 'closed the browser');
    assert.equal(browser.running, false);
  });
});

describe('tool runner', () => {
  const reports: ToolCallReport[] = [];
  const runner = () => {
    reports.length = 0;
    return new ToolRunner([new ShellTool(workspace), new FileTool(workspace), new HttpTool({ egress: false })], {
      record: (report) => reports.push(report),
    });
  };

  it('refuses everything until it knows the tier, then only the tier’s tools', async () => {
    const tools = runner();
    const early = await tools.run({ tool: 'file', input: { op: 'list' } });
    assert.equal(early.error, 'tools are not available before the agent knows its tier');
    tools.setEntitlements({ tools: ['file', 'http'], concurrentToolRuns: 1, tierName: 'commons' });
    const shell = await tools.run({ tool: 'shell', input: { command: 'id' } });
    assert.equal(shell.ok, false);
    assert.equal(shell.error, 'the shell tool is not in tier commons: you may use file, http');
    const unknown = await tools.run({ tool: 'teleport', input: {} });
    assert.match(unknown.error!, /there is no tool "teleport"; the tools are shell, file, http, browser/);
    assert.equal((await tools.run({ tool: 'file', input: { op: 'list' } })).ok, true);
    // Refusals are logged too (but not calls of tools that do not exist).
    assert.deepEqual(
      reports.map((report) => [report.tool, report.action, report.ok]),
      [
        ['file', 'refused', false],
        ['shell', 'refused', false],
        ['file', 'list', true],
      ],
    );
  });

  it('runs at most the tier’s number of tools at once, refusing the rest', async () => {
    const tools = runner();
    tools.setEntitlements({ tools: ['shell', 'file'], concurrentToolRuns: 1, tierName: 'commons' });
    const slow = tools.run({ tool: 'shell', input: { command: 'sleep 0.3; echo done' } });
    const second = await tools.run({ tool: 'file', input: { op: 'list' } });
    assert.equal(second.error, 'tier commons allows 1 tool run at once; wait for the others to finish');
    assert.equal((await slow).output, 'done\n');
    assert.equal(tools.inUse, 0);
    assert.equal((await tools.run({ tool: 'file', input: { op: 'list' } })).ok, true);
    tools.setEntitlements({ tools: ['shell'], concurrentToolRuns: 0 });
    assert.equal((await tools.run({ tool: 'shell', input: { command: 'true' } })).error, 'your tier runs no tools');
  });

  it('refuses bad input naming the problem, and logs what ran redacted and cut', async () => {
    const tools = runner();
    tools.setEntitlements({ tools: ['shell', 'file', 'http'], concurrentToolRuns: 2 });
    const bad = await tools.run({ tool: 'file', input: { op: 'read' } });
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /^file: path: /);
    const ran = await tools.run({
      tool: 'shell',
      input: { command: `echo ${'z'.repeat(600)} > /dev/null`, env: { API_KEY: 'sk-live-0123456789abcdef', N: '1' } },
    });
    assert.equal(ran.ok, true);
    const report = reports.at(-1)!;
    assert.equal(report.callId, ran.callId);
    assert.deepEqual(report.arguments.env, { API_KEY: REDACTED, N: '1' });
    assert.match(String(report.arguments.command), /…\(617 characters\)$/);
    assert.equal(report.exitCode, 0);
    assert.equal(report.cwd, '.');
    assert.deepEqual(
      reports.map((entry) => [entry.tool, entry.action, entry.ok]),
      [
        ['file', 'invalid', false],
        ['shell', 'run', true],
      ],
    );
  });
});
