// Runs the benchmark's socket.io viewers in their own thread, so that parsing their frames does
// not delay the load generator's clock. Reports arrival times as epoch milliseconds.
import { parentPort, workerData } from 'node:worker_threads';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_PATH, WORLD_NAMESPACE, type WorldChanges } from '../src/contract/index.js';

const { origin, viewers } = workerData as { origin: string; viewers: number };
const now = () => performance.timeOrigin + performance.now();
const arrivals = new Map<string, number[]>();
const tickDurations: number[] = [];
const sockets: Socket[] = [];
let frames = 0;
let ready = 0;

for (let v = 0; v < viewers; v++) {
  const socket = io(`${origin}${WORLD_NAMESPACE}`, { path: SOCKET_PATH, transports: ['websocket'] });
  socket.once('world:snapshot', () => ++ready === viewers && parentPort!.postMessage({ type: 'ready' }));
  socket.on('world:changes', ({ events }: WorldChanges) => {
    const at = now();
    frames++;
    for (const event of events) {
      if (event.type === 'agent.moved') {
        const key = `${event.agentId}@${event.version}`;
        const list = arrivals.get(key);
        if (list) list.push(at);
        else arrivals.set(key, [at]);
      } else if (event.type === 'world.tick' && v === 0 && event.moved > 0) {
        tickDurations.push(event.durationMs);
      }
    }
  });
  sockets.push(socket);
}

parentPort!.on('message', (message: { type: string }) => {
  if (message.type === 'ticks') {
    parentPort!.postMessage({ type: 'ticks', tickDurations: [...tickDurations] });
  } else if (message.type === 'report') {
    for (const socket of sockets) socket.close();
    parentPort!.postMessage({ type: 'report', arrivals: [...arrivals], frames, tickDurations });
  }
});
