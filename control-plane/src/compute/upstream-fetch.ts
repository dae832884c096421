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
    const send = (retry: boolean) =>
      new Promise<Response>((resolve, reject) => {
        let answered = false;
        const request = client.request(
          url,
          {
            method: init?.method ?? 'GET',
            headers,
            agent: agents[url.protocol as keyof typeof agents],
            signal: init?.signal ?? undefined,
          },
          (incoming) => {
            answered = true;
            responseOf(incoming).then(resolve, reject);
          },
        );
        request.on('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive connection the upstream closed just as it was reused: the request never reached
          // it (node's documented race), so it is sent once more on a new connection.
          if (retry && !answered && request.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
            send(false).then(resolve, reject);
          } else reject(error);
        });
        request.end(body ?? undefined);
      });
    return send(true);
  };
}

/** The upstream's answer as a `Response`: read whole, or as a stream of server-sent events. */
function responseOf(incoming: http.IncomingMessage): Promise<Response> {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) headers.append(raw[index]!, raw[index + 1]!);
  const init = { status: incoming.statusCode ?? 502, statusText: incoming.statusMessage, headers };
  if (init.status === 204 || init.status === 304) {
    incoming.resume();
    return Promise.resolve(new Response(null, init));
  }
  if ((incoming.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    return Promise.resolve(new Response(Readable.toWeb(incoming) as ReadableStream<Uint8Array>, init));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(new Response(Buffer.concat(chunks), init)));
    incoming.on('error', reject);
  });
}
