/**
 * Runs at most `concurrency` tasks at once (Docker calls to the nodes, each holding a database
 * connection for its row lock): `limited(task)` waits for a free slot. A finished task hands its slot
 * straight to the next waiting one.
 */
export function createLimiter(concurrency: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function limited<T>(task: () => Promise<T>): Promise<T> {
    if (active < concurrency) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
