// `npm run bench [-- world|board|ledger ...]`: runs the benchmarks one after the other (all of them by
// default), each in its own process so that one's load and memory never colour the next's figures.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES: Record<string, string> = {
  world: 'world-bench.js',
  board: 'board-bench.js',
  ledger: 'ledger-bench.js',
  gateway: 'gateway-bench.js',
  tools: 'tools-bench.js',
  image: 'agent-image-bench.js',
  payments: 'payments-bench.js',
  fleet: 'fleet-bench.js',
  ops: 'ops-bench.js',
  gpu: 'gpu-bench.js',
  console: 'console-bench.js',
  flows: 'flows-bench.js',
};

const names = process.argv.slice(2);
const unknown = names.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}

// Ctrl-C reaches the running benchmark too (same process group): wait for it to clean up after itself.
process.on('SIGINT', () => undefined);

for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(BENCHES[name]!, import.meta.url))], {
      stdio: 'inherit',
    });
    child.once('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
  if (code !== 0) {
    console.error(`the ${name} benchmark failed (exit ${code})`);
    process.exit(code);
  }
}
