import { WebSocket } from 'ws';
import { SOCKET_PATH, WORLD_NAMESPACE } from '../src/contract/index.js';

/**
 * Viewers that speak socket.io's wire protocol (Engine.IO 4) directly and only count what arrives:
 * the server does exactly the work a browser viewer costs it, while the benchmark spends almost
 * nothing decoding frames it does not measure.
 */
export class RawViewers {
  private readonly sockets: WebSocket[] = [];
  frames = 0;
  bytes = 0;

  constructor(
    private readonly origin: string,
    private readonly count: number,
  ) {}

  async connect(): Promise<void> {
    const url = `${this.origin.replace(/^http/, 'ws')}${SOCKET_PATH}/?EIO=4&transport=websocket`;
    await Promise.all(
      Array.from(
        { length: this.count },
        () =>
          new Promise<void>((resolve, reject) => {
            const socket = new WebSocket(url);
            this.sockets.push(socket);
            socket.on('error', reject);
            socket.on('message', (data: Buffer) => {
              const head = data.subarray(0, 40).toString(); // enough to tell the packet apart
              if (head.startsWith('0'))
                socket.send(`40${WORLD_NAMESPACE},`); // open → join /world
              else if (head === '2')
                socket.send('3'); // ping → pong
              else if (head.startsWith(`42${WORLD_NAMESPACE},["world:snapshot"`)) resolve();
              else if (head.startsWith(`42${WORLD_NAMESPACE},["world:changes"`)) {
                this.frames++;
                this.bytes += data.length;
              }
            });
          }),
      ),
    );
  }

  close() {
    for (const socket of this.sockets) socket.close();
  }
}
