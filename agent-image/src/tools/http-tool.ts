// HTTP(S) requests: any method, headers and a body out; the answer's status, headers and body back,
// the body cut at a byte cap and the whole exchange under one time limit. How it leaves the machine:
// - with VILLAGE_EGRESS_SOCKET set (in a container), every request goes to the egress forwarder in
//   absolute form, https:// URLs too, so the node's proxy can add the site's brokered secrets;
// - else through HTTP_PROXY/HTTPS_PROXY when set (https:// through a CONNECT tunnel), unless NO_PROXY
//   names the host;
// - else directly.
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { z } from 'zod';
import type { ToolSettings } from '../config.js';
import { OutputCap } from './output-cap.js';
import { describeError, failed, type Tool, type ToolResult } from './tool.js';

export const HTTP_LIMITS = {
  defaultTimeoutMs: 15_000,
  maxTimeoutMs: 120_000,
  defaultMaxBytes: 256 * 1024,
  maxBytes: 5 * 1024 * 1024,
  bodyChars: 1024 * 1024,
  redirects: 5,
} as const;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const HttpInputSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }).max(8192),
  method: z.preprocess(
    (value) => (typeof value === 'string' ? value.toUpperCase() : value),
    z.enum(HTTP_METHODS).default('GET'),
  ),
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'header names are tokens'), z.string().max(8192))
    .refine((headers) => Object.keys(headers).length <= 50, 'at most 50 headers')
    .optional(),
  body: z.string().max(HTTP_LIMITS.bodyChars, `body must be at most ${HTTP_LIMITS.bodyChars} characters`).optional(),
  timeoutMs: z.number().int().min(100).max(HTTP_LIMITS.maxTimeoutMs).optional(),
  maxBytes: z.number().int().positive().max(HTTP_LIMITS.maxBytes).optional(),
  /** Follow up to 5 redirects (GET and HEAD only); on by default. */
  followRedirects: z.boolean().optional(),
});
export type HttpInput = z.output<typeof HttpInputSchema>;

/** What an answer leaves in `ToolResult.data`. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  /** The URL that answered (after redirects). */
  url: string;
  contentType: string;
  headers: Record<string, string>;
  /** The body as text (empty for a binary body), cut at the cap. */
  body: string;
  bytes: number;
}

type Phase = 'connecting' | 'waiting for the answer' | 'reading the body';

export class HttpTool implements Tool<typeof HttpInputSchema> {
  readonly name = 'http' as const;
  readonly input = HttpInputSchema;

  constructor(private readonly settings: Pick<ToolSettings, 'proxy' | 'egress'>) {}

  action(input: HttpInput): string {
    return input.method;
  }

  async run(input: HttpInput): Promise<ToolResult> {
    const timeoutMs = input.timeoutMs ?? HTTP_LIMITS.defaultTimeoutMs;
    const maxBytes = input.maxBytes ?? HTTP_LIMITS.defaultMaxBytes;
    const follow = (input.followRedirects ?? true) && (input.method === 'GET' || input.method === 'HEAD');
    const deadline = AbortSignal.timeout(timeoutMs);
    const phase: { now: Phase } = { now: 'connecting' };
    let url = new URL(input.url);
    try {
      for (let hop = 0; ; hop++) {
        const response = await this.send(url, input, deadline, phase);
        const location = response.headers.location;
        if (follow && location && response.statusCode! >= 300 && response.statusCode! < 400) {
          response.resume();
          if (hop >= HTTP_LIMITS.redirects)
            return failed(`more than ${HTTP_LIMITS.redirects} redirects (last: ${url})`);
          url = new URL(location, url);
          if (url.protocol !== 'http:' && url.protocol !== 'https:') return failed(`redirected to ${url.protocol} URL`);
          continue;
        }
        phase.now = 'reading the body';
        return await readAnswer(response, url, maxBytes, deadline, input.method === 'HEAD');
      }
    } catch (error) {
      if (deadline.aborted) {
        return failed(`timed out after ${timeoutMs} ms ${phase.now} (${url.host})`, { exitCode: null });
      }
      return failed(`${input.method} ${url.origin}: ${describeError(error)}`, { exitCode: null });
    }
  }

  private async send(url: URL, input: HttpInput, signal: AbortSignal, phase: { now: Phase }): Promise<IncomingMessage> {
    const headers: Record<string, string> = {
      'user-agent': 'ai-village-agent/1',
      'accept-encoding': 'identity',
      ...input.headers,
    };
    if (input.body !== undefined) headers['content-length'] = String(Buffer.byteLength(input.body));
    const proxy = this.proxyFor(url);
    let request: http.ClientRequest;
    if (proxy && (url.protocol === 'http:' || this.settings.egress)) {
      // Absolute form: the proxy sees the whole URL (and, for https://, makes the TLS connection itself).
      request = http.request({
        host: proxy.hostname,
        port: Number(proxy.port || 80),
        method: input.method,
        path: url.href,
        headers: { ...headers, host: url.host },
        signal,
        agent: false,
      });
    } else if (proxy) {
      const socket = await connectTunnel(proxy, url, signal);
      request = https.request(url, {
        method: input.method,
        headers,
        signal,
        agent: false,
        createConnection: () => tls.connect({ socket, servername: url.hostname }),
      });
    } else {
      request = (url.protocol === 'https:' ? https : http).request(url, {
        method: input.method,
        headers,
        signal,
        agent: false,
      });
    }
    return new Promise((resolve, reject) => {
      request.once('error', reject);
      request.once('socket', (socket: Socket) => {
        const sent = () => (phase.now = 'waiting for the answer');
        if (socket.connecting) socket.once('connect', sent);
        else sent();
      });
      request.once('response', resolve);
      request.end(input.body);
    });
  }

  private proxyFor(url: URL): URL | undefined {
    const { proxy } = this.settings;
    if (!proxy) return undefined;
    const chosen = url.protocol === 'https:' ? proxy.https : proxy.http;
    if (!chosen || bypasses(url, proxy.noProxy)) return undefined;
    return new URL(chosen);
  }
}

/** NO_PROXY: `*`, a host, `.domain` or `domain` (and its subdomains), optionally with `:port`. */
function bypasses(url: URL, noProxy: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    const [name, entryPort] = entry.split(/:(?=\d+$)/) as [string, string | undefined];
    if (entryPort && entryPort !== port) return false;
    const bare = name.replace(/^\*?\./, '');
    return host === bare || host.endsWith(`.${bare}`);
  });
}

function connectTunnel(proxy: URL, url: URL, signal: AbortSignal): Promise<Socket> {
  const target = `${url.hostname}:${url.port || 443}`;
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: proxy.hostname,
      port: Number(proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers: { host: target },
      signal,
      agent: false,
    });
    request.once('error', reject);
    request.once('connect', (response, socket) => {
      if (response.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new Error(`the proxy refused the tunnel to ${target}: ${response.statusCode} ${response.statusMessage}`));
    });
    request.end();
  });
}

const TEXT_TYPES =
  /^(text\/|application\/(json|xml|xhtml\+xml|javascript|ld\+json|rss\+xml|atom\+xml)|[^;]*\+(json|xml))/i;

async function readAnswer(
  response: IncomingMessage,
  url: URL,
  maxBytes: number,
  signal: AbortSignal,
  head: boolean,
): Promise<ToolResult> {
  const cap = new OutputCap(maxBytes);
  if (!head) {
    await new Promise<void>((resolve, reject) => {
      const stop = () => {
        response.destroy();
        resolve();
      };
      response.on('data', (chunk: Buffer) => {
        cap.add(chunk);
        // Enough: stop reading (the rest is never downloaded).
        if (cap.truncated) stop();
      });
      response.once('end', resolve);
      response.once('error', (error) => (cap.truncated ? resolve() : reject(error)));
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  const status = response.statusCode ?? 0;
  const statusText = response.statusMessage ?? '';
  const contentType = String(response.headers['content-type'] ?? '');
  const headers = Object.fromEntries(
    Object.entries(response.headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, Array.isArray(value) ? value.join(', ') : value]],
    ),
  );
  const textual = contentType === '' || TEXT_TYPES.test(contentType);
  const body = textual ? cap.text() : '';
  const shownBody = textual
    ? body
    : `(binary body: ${contentType}, ${cap.totalBytes}${cap.truncated ? '+' : ''} bytes)`;
  const answer: HttpAnswer = { status, statusText, url: url.href, contentType, headers, body, bytes: cap.totalBytes };
  const output = `HTTP ${status} ${statusText}\ncontent-type: ${contentType || '(none)'}\n\n${shownBody}`;
  const data = answer as unknown as Record<string, unknown>;
  if (status >= 400) {
    // The node's egress proxy marks its own refusals (agent-image/src/egress: REFUSED_HEADER).
    const byProxy = response.headers['x-village-egress'];
    const why = byProxy ? ` (the egress proxy ${byProxy === 'refused' ? 'refused it' : 'failed'})` : '';
    return {
      ok: false,
      output,
      exitCode: status,
      truncated: cap.truncated,
      error: `HTTP ${status} ${statusText}${why}: ${messageOf(body) || url.host}`,
      data,
    };
  }
  return { ok: true, output, exitCode: status, truncated: cap.truncated, data };
}

/** A JSON error's `message`, else the body's first line. */
function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return firstLine(parsed.message);
  } catch {
    // Not JSON.
  }
  return firstLine(body);
}

function firstLine(text: string): string {
  const line = text.trim().split('\n', 1)[0] ?? '';
  return line.length <= 200 ? line : `${line.slice(0, 199)}…`;
}
