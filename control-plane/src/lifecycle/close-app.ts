import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';

/** How long requests in flight get to finish once the app closes, before their connections are cut. */
const DRAIN_MS = 3_000;

/**
 * Closes the app. Closing the HTTP server waits for every open connection, and a client that keeps one
 * (a keep-alive or websocket client that is slow to notice, such as a flow's node or an agent) would
 * hold the shutdown until the hard limit; after a short drain the connections left are cut.
 */
export async function closeApp(app: INestApplication): Promise<void> {
  const server = app.getHttpServer() as Server;
  const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
  cut.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}
