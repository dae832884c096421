import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The control-plane package's folder, found from this file whether it runs from src/ or dist/src/. */
const packageRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the control-plane package folder');
    dir = parent;
  }
  return dir;
})();

/** Files the control plane ships or finds beside it in the repository. */
export const PATHS = {
  defaultMap: join(packageRoot, 'assets/maps/village.tmj'),
  migrations: join(packageRoot, '../prisma/migrations'),
  mapPage: join(packageRoot, '../map/dist'),
  adminConsole: join(packageRoot, '../admin/dist'),
  agentRuntime: join(packageRoot, '../agent-image/dist/src/main.js'),
  egressDaemon: join(packageRoot, '../agent-image/dist/src/egress/main.js'),
  buildAgentImage: join(packageRoot, '../agent-image/docker/build-image.mjs'),
  defaultFlows: join(packageRoot, '../flows/default-flows.json'),
};
