// Loads the world and its map at start, retrying with backoff and saying so on the page while the
// control plane cannot be reached.
import { VillageClient, type World } from '@ai-village/control-plane/contract';
import { fetchGround, type Ground } from './tiled-map.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

export interface LoadedWorld {
  world: World;
  ground: Ground;
}

export async function loadWorld(errorBox: HTMLElement): Promise<LoadedWorld> {
  const client = new VillageClient({ baseUrl: window.location.origin, timeoutMs: 15_000 });
  for (let attempt = 0; ; attempt++) {
    try {
      const world = await client.world();
      const ground = await fetchGround(world.map.url);
      errorBox.hidden = true;
      return { world, ground };
    } catch (error) {
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      console.error('could not load the village', error);
      await countDown(errorBox, describe(error), delay);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof TypeError) return 'The village server cannot be reached.';
  if (error instanceof Error && error.name === 'TimeoutError') return 'The village server did not answer in time.';
  if (error instanceof Error && error.name === 'ZodError')
    return 'The village server sent a world this page does not understand.';
  return error instanceof Error
    ? `The village could not be loaded: ${error.message}`
    : 'The village could not be loaded.';
}

async function countDown(errorBox: HTMLElement, message: string, delayMs: number): Promise<void> {
  const title = document.createElement('strong');
  title.textContent = message;
  const detail = document.createElement('span');
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.textContent = 'Retry now';
  errorBox.replaceChildren(title, detail, retry);
  errorBox.hidden = false;

  const until = Date.now() + delayMs;
  await new Promise<void>((resolve) => {
    const update = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) return finish();
      detail.textContent = `Trying again in ${left} s…`;
    };
    const timer = window.setInterval(update, 250);
    const finish = () => {
      window.clearInterval(timer);
      detail.textContent = 'Trying again…';
      resolve();
    };
    retry.addEventListener('click', finish, { once: true });
    update();
  });
}
