import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/**
 * The `fetch` the gateway's `openai` clients use: node's own HTTP client on keep-alive connections
 * instead of the global fetch, which costs about twice the CPU per call (measured in the gateway
 * benchmark; see ARCHITECTURE.md). A whole answer is read into memory before the client parses it;
 * a server-sent event stream is handed over as it comes. Anything but a plain body (a stream, a form)
 * goes to the global fetch.
 */
export function upstreamFetch(): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const body = init?.body;
    if (
      input instanceof Request ||
      (body != null && typeof body !== 'string' && !(body instanceof Uint8Array)) ||
      !(url.protocol in agents)
    ) {
      return fetch(input, init);
    }
    const headers: Record<string, string> = Object.fromEntries(new Headers(init?.headers).entries());
    if (body != null) headers['content-length'] = String(Buffer.byteLength(body));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: init?.method ?? 'GET',
          headers,
          agent: agents[url.protocol as keyof typeof agents],
          signal: init?.signal ?? undefined,
        },
        (incoming) => {
          const responseHeaders = new Headers();
          const raw = incoming.rawHeaders;
          for (let index = 0; index < raw.length; index += 2) responseHeaders.append(raw[index]!, raw[index + 1]!);
          const init = {
            status: incoming.statusCode ?? 502,
            statusText: incoming.statusMessage,
            headers: responseHeaders,
          };
          if (init.status === 204 || init.status === 304) {
            incoming.resume();
            resolve(new Response(null, init));
          } else if ((incoming.headers['content-type'] ?? '').startsWith('text/event-stream')) {
            resolve(new Response(Readable.toWeb(incoming) as ReadableStream<Uint8Array>, init));
          } else {
            const chunks: Buffer[] = [];
            incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
            incoming.on('end', () => resolve(new Response(Buffer.concat(chunks), init)));
            incoming.on('error', reject);
          }
        },
      );
      request.on('error', reject);
      request.end(body ?? undefined);
    });
  };
}
